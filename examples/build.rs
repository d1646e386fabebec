//! Compiles `proto/demo.proto` (the demo's gRPC service) with protox, a
//! pure-Rust protobuf compiler: no `protoc` binary is needed.

fn main() {
    const PROTO: &str = "proto/demo.proto";
    println!("cargo:rerun-if-changed={PROTO}");
    let descriptors = match protox::compile([PROTO], ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("{PROTO}: {e:?}"),
    };
    // Server and client: the conformance tests and the bench call the
    // service with the generated client over any tonic channel.
    let generated = tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // No `connect` constructor: it needs tonic's `channel` feature,
        // which the demo itself does not use.
        .build_transport(false)
        .compile_fds(descriptors);
    if let Err(e) = generated {
        panic!("generating the gRPC code of {PROTO}: {e}");
    }
}

//! Chooses jsonwebtoken's process-wide crypto provider.
//!
//! jsonwebtoken infers its provider from its own features and, with both
//! `rust_crypto` and `aws_lc_rs` on (as `--all-features` does), installs one
//! that panics on first use. We install one explicitly before any key is
//! built: aws-lc-rs when compiled in, RustCrypto otherwise.

/// Installs the provider this crate was built with, unless one is installed.
pub(crate) fn ensure_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(feature = "aws_lc_rs")]
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    });
}

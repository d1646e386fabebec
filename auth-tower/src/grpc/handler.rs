//! Reading the identity inside a tonic handler.

use auth_core::{AuthError, AuthGuard, AuthIdentity, AuthorizationRef, Check, Peer, Role};

/// The `tonic::Status` for a refusal: its gRPC code and its description
/// (never a token), as the layer would have answered.
///
/// ```
/// let status = auth_tower::grpc::status_of(&auth_core::AuthError::MissingCredentials);
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// ```
pub fn status_of(err: &AuthError) -> tonic::Status {
    tonic::Status::new(tonic::Code::from(i32::from(err.grpc_code())), err.to_string())
}

/// The identity the layer admitted this call with. A call the layer let
/// through without credentials (an optional layer) is `UNAUTHENTICATED`;
/// a handler no layer guards is `INTERNAL`, with an `error` logged that
/// names the fix (the same rule as the extractors).
///
/// ```
/// use auth_tower::grpc;
/// let call = tonic::Request::new(());
/// assert_eq!(grpc::identity(&call).unwrap_err().code(), tonic::Code::Internal);
/// ```
pub fn identity<T>(request: &tonic::Request<T>) -> Result<AuthIdentity, tonic::Status> {
    let extensions = request.extensions();
    let found = extensions.get::<AuthIdentity>();
    let guard = extensions.get::<AuthGuard>();
    // No header is read here: the layer already judged the call.
    match AuthGuard::extract(found, guard, AuthorizationRef::Absent, Peer::default) {
        Check::Ready(Ok(Some(identity))) => Ok(identity),
        Check::Ready(Err(err)) => Err(status_of(&err)),
        Check::Ready(Ok(None)) | Check::Pending(_) => Err(status_of(&AuthError::MissingCredentials)),
    }
}

/// [`identity`], which must have the role (or scope) `R`: else
/// `PERMISSION_DENIED`.
///
/// ```
/// auth_tower::prelude::role!(Admin = "admin");
/// let call = tonic::Request::new(());
/// assert!(auth_tower::grpc::require_role::<Admin, _>(&call).is_err());
/// ```
pub fn require_role<R: Role, T>(request: &tonic::Request<T>) -> Result<AuthIdentity, tonic::Status> {
    let identity = identity(request)?;
    if identity.has_role_or_scope(R::NAME) {
        Ok(identity)
    } else {
        Err(status_of(&AuthError::InsufficientScope { required: R::NAME.to_owned() }))
    }
}

//! kgent's public gRPC API, generated from `proto/kgent/v1/kgent.proto`.
//!
//! kgentd serves it on a Unix socket; kgentctl and fleet automation are its clients.
pub mod v1 {
    tonic::include_proto!("kgent.v1");
}

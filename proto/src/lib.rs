//! kgent's public gRPC API, generated from `proto/kgent/v1/kgent.proto`.
//!
//! kgentd serves it on a Unix socket; kgentctl and fleet automation are its clients.
pub mod v1 {
    tonic::include_proto!("kgent.v1");

    /// The encoded descriptors of `kgent.v1`, served by gRPC reflection so that clients without
    /// the .proto file (grpcurl, grpcio-reflection) can call the API.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kgent_descriptor");
}

//! Generates the prost messages and tonic services from `proto/*.proto`,
//! with the protoc that `protoc-bin-vendored` ships (never a system one).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let files = [
        "proto/metapb.proto",
        "proto/errorpb.proto",
        "proto/pdpb.proto",
        "proto/raft_serverpb.proto",
        "proto/raft_cmdpb.proto",
        "proto/kvrpcpb.proto",
    ];
    tonic_prost_build::configure().compile_protos(&files, &["proto"])?;
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    Ok(())
}

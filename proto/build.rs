//! Compiles `proto/raw_ledger_service.proto` with protox (pure Rust), so no
//! system `protoc` is needed on developer machines, in CI or in image builds.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/raw_ledger_service.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}

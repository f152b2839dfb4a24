fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=kgent/v1/kgent.proto");
    tonic_prost_build::configure().compile_protos(&["kgent/v1/kgent.proto"], &["."])?;
    Ok(())
}

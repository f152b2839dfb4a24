fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=kgent/v1/kgent.proto");
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("kgent_descriptor.bin"))
        .compile_protos(&["kgent/v1/kgent.proto"], &["."])?;
    Ok(())
}

//! Embeds the State's design system (`dsfr/dist`, listed in `dsfr/files.txt`) in the binary:
//! one `include_bytes!` per file, so that both servers serve it without a file on disk.
use std::fmt::Write as _;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let list = format!("{root}/dsfr/files.txt");
    println!("cargo:rerun-if-changed={list}");
    println!("cargo:rerun-if-changed={root}/dsfr/VERSION");
    let files = std::fs::read_to_string(&list).expect("dsfr/files.txt is in the repository");
    let mut out = String::from("&[\n");
    for name in files.lines().map(str::trim).filter(|l| !l.is_empty()) {
        println!("cargo:rerun-if-changed={root}/dsfr/dist/{name}");
        writeln!(out, "    ({name:?}, include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/dsfr/dist/{name}\"))),")
            .expect("writing to a String");
    }
    out.push(']');
    let dest = format!("{}/dsfr_files.rs", std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

//! Embeds `migrations/clickhouse/*.sql` (in name order) and makes cargo rebuild when any
//! migration changes, for ClickHouse and for `sqlx::migrate!` alike.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let ch = root.join("clickhouse");
    println!("cargo:rerun-if-changed={}", ch.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&ch)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let mut out = String::from(
        "/// ClickHouse migrations: (file name, SQL), in order.\npub const CLICKHOUSE_MIGRATIONS: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let abs = f.canonicalize().unwrap();
        println!("cargo:rerun-if-changed={}", abs.display());
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            f.file_name().unwrap().to_string_lossy(),
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("clickhouse_migrations.rs");
    std::fs::write(dest, out).unwrap();
}

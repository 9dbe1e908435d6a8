//! Memory and disk footprint per 100,000 connections for each store, as a Markdown table.
//! Run: `cargo run --release -p enterprise-sso-benches --bin footprint`.

use enterprise_sso_benches as b;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    const N: usize = 100_000;
    let before = b::rss_bytes();
    let mem = b::memory(N);
    let memory_rss = b::rss_bytes().saturating_sub(before);
    drop(mem);
    drop(b::sqlite(N));
    drop(b::sled_store(N));
    drop(b::raw_sqlite(N));
    drop(b::raw_sled(N));
    let d = b::data_dir();
    println!("| store | footprint per 100k connections |");
    println!("| --- | --- |");
    println!(
        "| MemoryRepo | {} resident (RSS growth while filling) |",
        mib(memory_rss)
    );
    println!(
        "| SqliteRepo | {} on disk (file + WAL) |",
        mib(b::disk_size(&d.join(format!("sqlite-{N}.db"))))
    );
    println!(
        "| SledRepo | {} on disk |",
        mib(b::disk_size(&d.join(format!("sled-{N}"))))
    );
    println!(
        "| raw SQLite table (id, record) | {} on disk |",
        mib(b::disk_size(&d.join(format!("raw-sqlite-{N}.db"))))
    );
    println!(
        "| raw sled tree (id -> record) | {} on disk |",
        mib(b::disk_size(&d.join(format!("raw-sled-{N}"))))
    );
}

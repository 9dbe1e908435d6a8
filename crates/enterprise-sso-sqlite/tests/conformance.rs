//! The core conformance suite on a temp-file database and on an in-memory one.
#![allow(clippy::unwrap_used)]

use enterprise_sso_sqlite::SqliteRepo;

mod file {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let repo = SqliteRepo::open(dir.path().join("conformance.db")).unwrap();
        (repo, dir)
    });
}

/// One pooled read connection: concurrent reads open more (the pool's growth path).
mod file_one_pooled_reader {
    use super::*;
    use enterprise_sso_sqlite::{Durability, SqliteOptions};
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            readers: 1,
            durability: Durability::Normal,
            ..Default::default()
        };
        let repo = SqliteRepo::open_with(dir.path().join("conformance.db"), opts).unwrap();
        (repo, dir)
    });
}

mod file_inline_execution {
    use super::*;
    use enterprise_sso_sqlite::{Execution, SqliteOptions};
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            execution: Execution::Inline,
            ..Default::default()
        };
        let repo = SqliteRepo::open_with(dir.path().join("conformance.db"), opts).unwrap();
        (repo, dir)
    });
}

/// Reads handed to reader threads.
mod file_reader_threads {
    use super::*;
    use enterprise_sso_sqlite::{Execution, SqliteOptions};
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            execution: Execution::Threads,
            ..Default::default()
        };
        let repo = SqliteRepo::open_with(dir.path().join("conformance.db"), opts).unwrap();
        (repo, dir)
    });
}

/// No read connections: reads run on the writer thread, inside its batches.
mod file_reads_on_writer {
    use super::*;
    use enterprise_sso_sqlite::SqliteOptions;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            readers: 0,
            ..Default::default()
        };
        let repo = SqliteRepo::open_with(dir.path().join("conformance.db"), opts).unwrap();
        (repo, dir)
    });
}

mod in_memory {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| (SqliteRepo::open_in_memory().unwrap(), ()));
}

/// The suite with every secret sealed by a key ring, on a file database.
mod file_encrypted {
    use super::*;
    use enterprise_sso::crypto::Encrypted;
    use enterprise_sso_conformance::test_keyring;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let repo = SqliteRepo::open(dir.path().join("conformance.db")).unwrap();
        (Encrypted::new(repo, test_keyring()), dir)
    });
}

/// The suite through a read cache, on a file database.
mod file_cached {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let repo = SqliteRepo::open(dir.path().join("conformance.db")).unwrap();
        (enterprise_sso_cache::Cached::new(repo), dir)
    });
}

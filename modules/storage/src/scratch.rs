//! A database of its own for one unit test (feature `testing`, for modules' dev
//! builds only): a fresh PostgreSQL database on the server of `PLANTD_TEST_DATABASE_URL`
//! when it is set, else a SQLite file in a fresh temporary folder; migrated with the
//! given modules' migrations and removed when dropped. Touches nothing else.

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::{run_migrations, Db, ModuleMigrations};

pub struct ScratchDb {
    pub db: Db,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

/// `name` makes the database's name unique with the process id (`plantd_{name}_{pid}`).
pub fn scratch_db(name: &str, migrations: &[&ModuleMigrations]) -> Result<ScratchDb, String> {
    let unique = format!("plantd_{name}_{}", std::process::id());
    let (db, cleanup): (Db, Box<dyn FnOnce()>) = match std::env::var("PLANTD_TEST_DATABASE_URL") {
        Ok(base) => {
            let base = base.trim_end_matches('/').to_owned();
            let admin = format!("{base}/postgres");
            let mut conn = PgConnection::establish(&admin).map_err(|e| e.to_string())?;
            for sql in [
                format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"),
                format!("CREATE DATABASE {unique}"),
            ] {
                diesel::sql_query(sql)
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())?;
            }
            let db = Db::open(&format!("{base}/{unique}"), 4)?;
            let cleanup = move || {
                if let Ok(mut conn) = PgConnection::establish(&admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
                            .execute(&mut conn);
                }
            };
            (db, Box::new(cleanup))
        }
        Err(_) => {
            let dir = std::env::temp_dir().join(&unique);
            let _ = std::fs::remove_dir_all(&dir);
            let path = dir.join("plantd.db");
            let db = Db::open(&path.to_string_lossy(), 4)?;
            (db, Box::new(move || drop(std::fs::remove_dir_all(&dir))))
        }
    };
    let scratch = ScratchDb {
        db,
        cleanup: Some(cleanup),
    };
    run_migrations(&scratch.db, migrations).map_err(|e| e.to_string())?;
    Ok(scratch)
}

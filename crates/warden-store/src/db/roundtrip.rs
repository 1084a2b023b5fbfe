//! The layer itself on both backends: every value type, the portable aggregates, and
//! transactions and batches.

use super::{params, Batch, Db, Value};
use crate::location::{StoreLocation, StoreName};

fn sqlite() -> Db {
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    Db::sqlite(conn, StoreName::new(":memory:"))
}

fn postgres() -> Db {
    let url = warden_testkit::pg::database_url();
    match url.parse::<StoreLocation>().expect("test URL") {
        StoreLocation::Postgres(url) => Db::postgres(&url).expect("connect"),
        other => panic!("not a PostgreSQL URL: {other:?}"),
    }
}

fn values_round_trip(db: &Db) {
    db.batch(
        &db.dialect()
            .ddl("CREATE TABLE t (id {AUTO_ID}, i BIGINT, r DOUBLE PRECISION, s TEXT, b {BLOB})"),
    )
    .expect("create");
    let id: i64 = db
        .query_value(
            "INSERT INTO t (i, r, s, b) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![i64::MIN, 2.5, "it's ?1", vec![0_u8, 159, 255]],
        )
        .expect("insert");
    db.execute(
        "INSERT INTO t (i, r, s, b) VALUES (?1, ?2, ?3, ?4)",
        params![Value::Null, None::<f64>, None::<String>, None::<Vec<u8>>],
    )
    .expect("insert nulls");
    let row = db
        .query_one("SELECT i, r, s, b FROM t WHERE id = ?1", params![id])
        .expect("select");
    assert_eq!(row.get::<i64>(0).expect("i"), i64::MIN);
    assert_eq!(row.get::<f64>(1).expect("r"), 2.5);
    assert_eq!(row.get::<String>(2).expect("s"), "it's ?1");
    assert_eq!(row.get::<Vec<u8>>(3).expect("b"), [0, 159, 255]);
    assert!(row.get::<String>(0).is_err(), "a type mismatch is an error");

    let nulls = db
        .query_one("SELECT i, r, s, b FROM t WHERE id <> ?1", params![id])
        .expect("select nulls");
    assert_eq!(nulls.get::<Option<i64>>(0).expect("i"), None);
    assert_eq!(nulls.get::<Option<f64>>(1).expect("r"), None);
    assert_eq!(nulls.get::<Option<String>>(2).expect("s"), None);
    assert_eq!(nulls.get::<Option<Vec<u8>>>(3).expect("b"), None);

    let agg = db
        .query_one(
            "SELECT COUNT(*), CAST(SUM(id) AS BIGINT), MAX(i) IS NOT NULL,
                    COUNT(*) FILTER (WHERE s IS DISTINCT FROM ?1)
             FROM t",
            params!["it's ?1"],
        )
        .expect("aggregates");
    assert_eq!(agg.get::<i64>(0).expect("count"), 2);
    assert!(agg.get::<i64>(1).expect("sum") >= 3);
    assert!(agg.get::<bool>(2).expect("bool"));
    assert_eq!(agg.get::<i64>(3).expect("distinct from"), 1);
}

fn transactions_and_batches(db: &Db) {
    db.batch("CREATE TABLE k (n BIGINT PRIMARY KEY)")
        .expect("create");
    {
        let tx = db.write_tx().expect("begin");
        tx.execute("INSERT INTO k (n) VALUES (?1)", params![1_i64])
            .expect("insert");
        // Dropped without commit: rolled back.
    }
    let count = |db: &Db| db.query_value::<i64>("SELECT COUNT(*) FROM k", params![]);
    assert_eq!(count(db).expect("count"), 0);

    let mut batch = Batch::new();
    for n in 0..2500_i64 {
        batch.push("INSERT INTO k (n) VALUES (?1)", params![n]);
    }
    batch.push("DELETE FROM k WHERE n >= ?1", params![2000_i64]);
    let tx = db.write_tx().expect("begin");
    let changed = tx.run(&batch).expect("batch");
    assert_eq!(changed.len(), 2501);
    assert_eq!(changed[2500], 500, "statements run in order");
    tx.commit().expect("commit");
    assert_eq!(count(db).expect("count"), 2000);

    // A failing statement fails the batch, and its transaction changes nothing.
    let mut bad = Batch::new();
    bad.push("INSERT INTO k (n) VALUES (?1)", params![5000_i64]);
    bad.push("INSERT INTO k (n) VALUES (?1)", params![1_i64]);
    let tx = db.write_tx().expect("begin");
    assert!(tx.run(&bad).is_err(), "duplicate key");
    drop(tx);
    assert_eq!(count(db).expect("count"), 2000);
}

#[test]
fn sqlite_values_round_trip() {
    values_round_trip(&sqlite());
}

#[test]
fn postgres_values_round_trip() {
    values_round_trip(&postgres());
}

#[test]
fn sqlite_transactions_and_batches() {
    transactions_and_batches(&sqlite());
}

#[test]
fn postgres_transactions_and_batches() {
    transactions_and_batches(&postgres());
}

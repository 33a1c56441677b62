//! The six Soroban state tables against figures computed independently by
//! `tests/python/soroban_state_expected.py` (Python stellar-sdk decode of the
//! same lake objects): per ledger, the distinct changed contract data / code /
//! TTL keys and how many end deleted, SAC balances, TTL live-until ledgers,
//! contract code section counts, config-setting values, evicted and restored
//! keys. Real fixtures have no upgrades, evictions or restores, so the
//! synthetic network (config upgrades, evictions, explicit and automatic
//! restores, WASM uploads) covers those. Skips with a notice without fixtures
//! or the Python modules.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use ducklake_tests::keep;
use ducklake_tests::{Lake, PUBNET, SYNTHNET, describe, open_catalog, run_config, synth_and_ingest, write_config};
use serde_json::Value;

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import stellar_sdk, zstandard"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        ducklake_tests::missing_tool(
            "python3 with stellar_sdk and zstandard is not available; skipping (pip install stellar-sdk zstandard)",
        );
    }
    ok
}

fn expected(passphrase: &str, lake: &Path) -> BTreeMap<i64, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/soroban_state_expected.py");
    let out = Command::new("python3").arg(script).arg(passphrase).arg(lake).output().expect("run python3");
    assert!(out.status.success(), "soroban_state_expected.py: {}", describe(&out));
    let v: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    v.into_iter().map(|(k, v)| (k.parse().expect("ledger number"), v)).collect()
}

fn strings(conn: &duckdb::Connection, sql: &str) -> Vec<(String, String)> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap().map(Result::unwrap).collect()
}

fn count(conn: &duckdb::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn json_map(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect();
    out.sort();
    out
}

/// Totals over all ledgers, printed for the report.
#[derive(Debug, Default)]
struct Totals {
    ledgers: usize,
    contract_data: i64,
    data_deleted: i64,
    contract_code: i64,
    ttl: i64,
    ttl_deleted: i64,
    sac_balances: usize,
    config: usize,
    evicted: usize,
    restored: usize,
}

/// Compares every ledger's rows with the Python figures.
fn compare(conn: &duckdb::Connection, schema: &str, exp: &BTreeMap<i64, Value>) -> Totals {
    let mut t = Totals::default();
    for (seq, e) in exp {
        let q = |table: &str, cond: &str| {
            count(conn, &format!("SELECT count(*) FROM {schema}.{table} WHERE ledger_sequence = {seq} {cond}"))
        };
        let n = |k: &str| e[k].as_i64().unwrap();
        let got = [
            q("contract_data_snapshot_v1", ""),
            q("contract_data_snapshot_v1", "AND deleted"),
            q("contract_code_snapshot_v1", ""),
            q("contract_code_snapshot_v1", "AND deleted"),
            q("ttl_snapshot_v1", ""),
            q("ttl_snapshot_v1", "AND deleted"),
        ];
        let want = [
            n("contract_data"),
            n("contract_data_deleted"),
            n("contract_code"),
            n("contract_code_deleted"),
            n("ttl"),
            n("ttl_deleted"),
        ];
        assert_eq!(got, want, "ledger {seq}: data, data deleted, code, code deleted, ttl, ttl deleted");
        let balances = strings(
            conn,
            &format!(
                "SELECT ledger_key_hash, balance FROM {schema}.contract_data_snapshot_v1 \
                 WHERE ledger_sequence = {seq} AND balance IS NOT NULL ORDER BY 1"
            ),
        );
        assert_eq!(balances, json_map(&e["sac_balances"]), "ledger {seq}: SAC balances");
        let ttls = strings(
            conn,
            &format!(
                "SELECT key_hash, live_until_ledger_seq::VARCHAR FROM {schema}.ttl_snapshot_v1 \
                 WHERE ledger_sequence = {seq} AND live_until_ledger_seq IS NOT NULL ORDER BY 1"
            ),
        );
        assert_eq!(ttls, json_map(&e["ttl_live_until"]), "ledger {seq}: TTL live-until");
        let codes = strings(
            conn,
            &format!(
                "SELECT contract_code_hash, CASE WHEN code_stats_source IS NULL THEN 'null' ELSE \
                 '[' || concat_ws(',', n_functions, n_globals, n_table_entries, n_types, n_data_segments, \
                 n_elem_segments, n_imports, n_exports, n_data_segment_bytes) || ']' END \
                 FROM {schema}.contract_code_snapshot_v1 WHERE ledger_sequence = {seq} AND NOT evicted ORDER BY 1"
            ),
        );
        let want_codes: Vec<(String, String)> =
            json_map(&e["code_stats"]).into_iter().map(|(k, v)| (k, v.replace(' ', ""))).collect();
        assert_eq!(codes, want_codes, "ledger {seq}: contract code section counts");
        for (id, fields) in e["config"].as_object().unwrap() {
            for (col, v) in fields.as_object().unwrap() {
                let got = count(
                    conn,
                    &format!(
                        "SELECT {col}::BIGINT FROM {schema}.config_settings_snapshot_v1 \
                         WHERE ledger_sequence = {seq} AND config_setting_id = {id}"
                    ),
                );
                assert_eq!(got, v.as_i64().unwrap(), "ledger {seq}: config setting {id} {col}");
            }
        }
        assert_eq!(q("config_settings_snapshot_v1", ""), e["config"].as_object().unwrap().len() as i64);
        let evicted = strings(
            conn,
            &format!(
                "SELECT key_hash, entry_type FROM {schema}.evicted_keys_state_v1 WHERE ledger_sequence = {seq} ORDER BY 1"
            ),
        );
        let want: Vec<(String, String)> = e["evicted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(evicted, want, "ledger {seq}: evicted keys");
        let restored: Vec<String> = strings(
            conn,
            &format!(
                "SELECT key_hash, '' FROM {schema}.restored_keys_state_v1 WHERE ledger_sequence = {seq} ORDER BY 1"
            ),
        )
        .into_iter()
        .map(|(k, _)| k)
        .collect();
        let want: Vec<String> =
            e["restored"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(restored, want, "ledger {seq}: restored keys");
        t.ledgers += 1;
        t.contract_data += got[0];
        t.data_deleted += got[1];
        t.contract_code += got[2];
        t.ttl += got[4];
        t.ttl_deleted += got[5];
        t.sac_balances += balances.len();
        t.config += e["config"].as_object().unwrap().len();
        t.evicted += evicted.len();
        t.restored += restored.len();
    }
    t
}

#[test]
fn soroban_tables_match_an_independent_decode_of_the_fixtures() {
    let Some(fixtures) = ducklake_tests::fixtures() else { return };
    if !python_ready() {
        return;
    }
    let lake = fixtures.join("derived/datalake-pubnet-lpf1-fpp64000");
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("f.duckdb");
    for (i, (start, end)) in
        [(51000294, 51000294), (53312000, 53312000), (57500008, 57500008), (60659332, 60659332), (63092982, 63093001)]
            .into_iter()
            .enumerate()
    {
        let config = write_config(
            tmp.path(),
            &format!("c{i}.yaml"),
            &Lake { path: &lake, passphrase: PUBNET, start, end },
            &catalog,
            &keep,
        );
        let out = run_config(&config);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    let exp = expected(PUBNET, &lake);
    let conn = open_catalog(&catalog);
    let t = compare(&conn, "mainnet", &exp);
    eprintln!("fixtures: {t:?}");
    assert_eq!(t.ledgers, 24);
    assert!(t.contract_data > 0 && t.sac_balances > 0 && t.ttl > 0 && t.data_deleted > 0);
    // Chosen values: key types and durabilities are stellar-etl's strings,
    // contract ids C-strkeys, ledger_entry_change the real change type.
    let bad = count(
        &conn,
        "SELECT count(*) FROM mainnet.contract_data_snapshot_v1 WHERE contract_id NOT LIKE 'C%' \
         OR contract_key_type NOT LIKE 'ScValTypeScv%' OR contract_durability NOT LIKE 'ContractDataDurability%' \
         OR ledger_entry_change NOT IN (0, 1, 2, 4) OR (deleted <> (ledger_entry_change = 2)) \
         OR (balance IS NOT NULL AND balance_holder NOT LIKE 'C%') OR length(ledger_key_hash) <> 64",
    );
    assert_eq!(bad, 0, "contract data rows with malformed values");
}

#[test]
fn synthetic_network_exercises_every_soroban_table() {
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (lake, catalog) =
        synth_and_ingest(tmp.path(), 240, &["--seed", "11", "--txs-per-ledger", "20", "--upgrade-every", "12"], &keep);
    let exp = expected(SYNTHNET, &lake);
    let conn = open_catalog(&catalog);
    let t = compare(&conn, "synth", &exp);
    let by = |sql: &str| count(&conn, sql);
    let auto = by("SELECT count(*) FROM synth.restored_keys_state_v1 WHERE restore_op_type = 'invoke_host_function'");
    let explicit = by("SELECT count(*) FROM synth.restored_keys_state_v1 WHERE restore_op_type = 'restore_footprint'");
    let evicted_temp =
        by("SELECT count(*) FROM synth.evicted_keys_state_v1 WHERE durability = 'ContractDataDurabilityTemporary'");
    let evicted_persistent =
        by("SELECT count(*) FROM synth.evicted_keys_state_v1 WHERE durability = 'ContractDataDurabilityPersistent'");
    let parsed = by("SELECT count(*) FROM synth.contract_code_snapshot_v1 WHERE code_stats_source = 'parsed'");
    let costed = by("SELECT count(*) FROM synth.contract_code_snapshot_v1 WHERE code_stats_source = 'cost_inputs'");
    let upgraded = by("SELECT count(*) FROM synth.config_settings_snapshot_v1 WHERE ledger_entry_change = 1");
    let extended = by("SELECT count(*) FROM synth.ttl_snapshot_v1 WHERE ledger_entry_change = 1 AND NOT expired");
    eprintln!(
        "synthetic: {t:?}; restores automatic {auto}, explicit {explicit}; evicted temporary {evicted_temp}, \
         persistent {evicted_persistent}; code stats parsed {parsed}, cost inputs {costed}; config upgrade rows \
         {upgraded}; TTL updates {extended}"
    );
    assert!(t.config > 0 && upgraded as usize == t.config, "config upgrades");
    assert!(t.evicted > 0 && evicted_temp > 0 && evicted_persistent > 0, "evictions");
    assert!(auto > 0 && explicit > 0, "automatic and explicit restores");
    assert!(parsed > 0 && costed > 0 && t.contract_code > 0, "uploads");
    assert!(extended > 0 && t.ttl_deleted > 0, "TTL extensions and evicted TTLs");
}

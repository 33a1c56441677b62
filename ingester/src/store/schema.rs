//! The tables of a schema: created, migrated from older versions (columns
//! added), bound to one network, with the lineage table and the `*_current` views.

use duckdb::params;

use super::commit::DuckDbStore;
use super::retry::retry_transient;
use super::{DbContext, LINEAGE_TABLE, StoreError};
use crate::sql::ident;
use crate::tables::{CURRENT_VIEWS, Column, all_tables, create_table_sql_with, current_view_sql};

impl DuckDbStore {
    /// Creates the schema, tables and lineage table; adds columns this
    /// version introduced to tables created by an older one; refuses a schema
    /// that holds another network's ledgers.
    pub(super) fn prepare(&mut self) -> Result<(), StoreError> {
        // Several processes may prepare one lake at once (parallel backfill):
        // the loser of a DDL race retries and finds everything in place.
        retry_transient(|| self.create_tables(), "creating the tables")?;
        let other: Option<String> = self
            .conn
            .query_row(
                &format!(
                    "SELECT max(network_passphrase) FILTER (WHERE network_passphrase <> ?) FROM {}",
                    self.lineage()
                ),
                params![self.passphrase],
                |r| r.get(0),
            )
            .ctx(|| "reading the lineage table".into())?;
        if let Some(other) = other {
            return Err(StoreError::Refused(format!(
                "schema {:?} already holds ledgers of network {other:?}, not {:?}; use another schema_name",
                self.schema, self.passphrase
            )));
        }
        Ok(())
    }

    /// Schema, tables, lineage table, migrations and views, in one transaction.
    fn create_tables(&self) -> Result<(), StoreError> {
        let schema_q = format!("{}.{}", ident(&self.catalog), ident(&self.schema));
        let mut ddl = format!("BEGIN;\nCREATE SCHEMA IF NOT EXISTS {schema_q};\n");
        for (name, columns) in all_tables() {
            ddl.push_str(&create_table_sql_with(&schema_q, name, columns, !self.lake));
            ddl.push_str(";\n");
        }
        ddl.push_str(&create_table_sql_with(&schema_q, LINEAGE_TABLE, LINEAGE_COLUMNS, !self.lake));
        ddl.push(';');
        let rollback = |e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            e
        };
        self.conn.execute_batch(&ddl).ctx(|| format!("creating tables in schema {}", self.schema)).map_err(rollback)?;
        for (name, columns) in all_tables() {
            self.migrate(name, columns).map_err(rollback)?;
        }
        // Views after migration: `SELECT *` binds the columns as they are now.
        let views: Vec<String> =
            CURRENT_VIEWS.iter().map(|v| current_view_sql(&self.catalog, &self.schema, v)).collect();
        self.conn
            .execute_batch(&(views.join(";\n") + ";\nCOMMIT;"))
            .ctx(|| format!("creating the *_current views in schema {}", self.schema))
            .map_err(rollback)
    }

    /// Brings a table created by an older version up to date: its columns
    /// must be a prefix of ours; the missing ones are added (NULL for old rows).
    fn migrate(&self, table: &str, columns: &[Column]) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT column_name FROM duckdb_columns() \
                 WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index",
            )
            .ctx(|| format!("inspecting {table}"))?;
        let existing: Vec<String> = stmt
            .query_map(params![self.catalog, self.schema, table], |r| r.get(0))
            .ctx(|| format!("inspecting {table}"))?
            .collect::<Result<_, _>>()
            .ctx(|| format!("inspecting {table}"))?;
        for (i, name) in existing.iter().enumerate() {
            if columns.get(i).is_none_or(|c| c.name != name) {
                return Err(StoreError::Refused(format!(
                    "table {}.{table} has column #{} {name:?} where this version expects {:?}; \
                     it was not created by a compatible ingester",
                    self.schema,
                    i + 1,
                    columns.get(i).map_or("(nothing)", |c| c.name)
                )));
            }
        }
        for c in &columns[existing.len()..] {
            let ty = c.sql_type.replace(" NOT NULL", "");
            // The compression clause is for CREATE TABLE only.
            let ty = ty.split(" USING ").next().unwrap_or(&ty);
            self.conn
                .execute_batch(&format!("ALTER TABLE {} ADD COLUMN {} {ty}", self.qualified(table), ident(c.name)))
                .ctx(|| format!("adding column {} to {table}", c.name))?;
            tracing::info!(table, column = c.name, "added column to existing table");
        }
        Ok(())
    }
}

/// Columns of the lineage table: one row per committed batch.
pub const LINEAGE_COLUMNS: &[Column] = &[
    Column { name: "batch_id", sql_type: "BIGINT NOT NULL", nullable: false },
    Column { name: "ledger_start", sql_type: "BIGINT NOT NULL", nullable: false },
    Column { name: "ledger_end", sql_type: "BIGINT NOT NULL", nullable: false },
    Column { name: "ledger_count", sql_type: "INTEGER NOT NULL", nullable: false },
    Column { name: "first_previous_ledger_hash", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "last_ledger_hash", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "last_ledger_closed_at", sql_type: "TIMESTAMP NOT NULL", nullable: false },
    Column { name: "row_counts", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "network_passphrase", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "source", sql_type: "VARCHAR", nullable: true },
    Column { name: "ingester_version", sql_type: "VARCHAR NOT NULL", nullable: false },
    Column { name: "committed_at", sql_type: "TIMESTAMP NOT NULL", nullable: false },
];

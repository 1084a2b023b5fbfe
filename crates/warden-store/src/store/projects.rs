//! Projects and runs.

use super::convert::{self, invalid};
use super::{hostname, now, require_holder, require_project, Store};
use crate::db::{params, Row};
use crate::error::StoreError;
use crate::model::{Project, RunKind, RunStatus};

const PROJECT_COLUMNS: &str = "SELECT id, root, tech, created_at FROM projects";

impl Store {
    /// Creates the project, or updates its root if it exists.
    pub fn ensure_project(&mut self, id: &str, root: &str) -> Result<(), StoreError> {
        if id.trim().is_empty() {
            return Err(invalid(
                self.name(),
                "project id must not be empty".to_string(),
            ));
        }
        self.db.execute(
            "INSERT INTO projects (id, root, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET root = excluded.root
             WHERE projects.root IS DISTINCT FROM excluded.root",
            params![id, root, now()],
        )?;
        Ok(())
    }

    /// The project with this id, if any.
    pub fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.db
            .query_opt(&format!("{PROJECT_COLUMNS} WHERE id = ?1"), params![id])?
            .map(|row| self.project_from(&row))
            .transpose()
    }

    /// Every project, by id.
    pub fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.db
            .query(&format!("{PROJECT_COLUMNS} ORDER BY id"), params![])?
            .iter()
            .map(|row| self.project_from(row))
            .collect()
    }

    fn project_from(&self, row: &Row) -> Result<Project, StoreError> {
        Ok(Project {
            id: row.get(0)?,
            root: row.get(1)?,
            tech: convert::tech(self.name(), &row.get::<String>(2)?)?,
            created_at: row.get(3)?,
        })
    }

    /// Replaces the project's detected technologies (stored sorted, without repeats).
    pub fn set_tech(&mut self, project: &str, tech: &[String]) -> Result<(), StoreError> {
        let mut tech = tech.to_vec();
        tech.sort();
        tech.dedup();
        let json = serde_json::Value::from(tech).to_string();
        let changed = self.db.execute(
            "UPDATE projects SET tech = ?2 WHERE id = ?1",
            params![project, json],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownProject {
                store: self.name().clone(),
                id: project.to_string(),
            });
        }
        Ok(())
    }

    /// Records the start of a run by `holder` (with this process's pid and host) and returns its id.
    pub fn begin_run(
        &mut self,
        project: &str,
        kind: RunKind,
        holder: &str,
    ) -> Result<i64, StoreError> {
        require_holder(&self.db, holder)?;
        require_project(&self.db, project)?;
        self.db.query_value(
            "INSERT INTO runs (project, kind, status, holder, pid, host, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![
                project,
                kind.as_str(),
                RunStatus::Running.as_str(),
                holder,
                i64::from(std::process::id()),
                hostname(),
                now()
            ],
        )
    }

    /// Records how a run ended, with its statistics as JSON.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        status: RunStatus,
        stats: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let changed = self.db.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3, stats = ?4 WHERE id = ?1",
            params![run_id, status.as_str(), now(), stats.to_string()],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownRun {
                store: self.name().clone(),
                id: run_id,
            });
        }
        Ok(())
    }
}

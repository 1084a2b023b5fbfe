//! Projects and runs.

use super::convert::{self, invalid};
use super::{hostname, now, require_holder, require_project, Db, Store};
use crate::error::StoreError;
use crate::model::{Project, RunKind, RunStatus};
use rusqlite::{params, OptionalExtension};

type ProjectRow = (String, String, String, String);

const PROJECT_COLUMNS: &str = "SELECT id, root, tech, created_at FROM projects";

impl Store {
    /// Creates the project, or updates its root if it exists.
    pub fn ensure_project(&mut self, id: &str, root: &str) -> Result<(), StoreError> {
        if id.trim().is_empty() {
            return Err(invalid(
                &self.path,
                "project id must not be empty".to_string(),
            ));
        }
        self.conn
            .execute(
                "INSERT INTO projects (id, root, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET root = excluded.root
                 WHERE projects.root IS NOT excluded.root",
                params![id, root, now()],
            )
            .db(&self.path)?;
        Ok(())
    }

    /// The project with this id, if any.
    pub fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        let row: Option<ProjectRow> = self
            .conn
            .query_row(&format!("{PROJECT_COLUMNS} WHERE id = ?1"), [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .db(&self.path)?;
        row.map(|row| self.project_from(row)).transpose()
    }

    /// Every project, by id.
    pub fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{PROJECT_COLUMNS} ORDER BY id"))
            .db(&self.path)?;
        let rows: Vec<ProjectRow> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .db(&self.path)?;
        rows.into_iter().map(|row| self.project_from(row)).collect()
    }

    fn project_from(
        &self,
        (id, root, tech, created_at): ProjectRow,
    ) -> Result<Project, StoreError> {
        Ok(Project {
            id,
            root,
            tech: convert::tech(&self.path, &tech)?,
            created_at,
        })
    }

    /// Replaces the project's detected technologies (stored sorted, without repeats).
    pub fn set_tech(&mut self, project: &str, tech: &[String]) -> Result<(), StoreError> {
        let mut tech = tech.to_vec();
        tech.sort();
        tech.dedup();
        let json = serde_json::Value::from(tech).to_string();
        let changed = self
            .conn
            .execute(
                "UPDATE projects SET tech = ?2 WHERE id = ?1",
                params![project, json],
            )
            .db(&self.path)?;
        if changed == 0 {
            return Err(StoreError::UnknownProject {
                path: self.path.clone(),
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
        require_holder(&self.path, holder)?;
        require_project(&self.conn, &self.path, project)?;
        self.conn
            .query_row(
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
                |r| r.get(0),
            )
            .db(&self.path)
    }

    /// Records how a run ended, with its statistics as JSON.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        status: RunStatus,
        stats: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET status = ?2, finished_at = ?3, stats = ?4 WHERE id = ?1",
                params![run_id, status.as_str(), now(), stats.to_string()],
            )
            .db(&self.path)?;
        if changed == 0 {
            return Err(StoreError::UnknownRun {
                path: self.path.clone(),
                id: run_id,
            });
        }
        Ok(())
    }
}

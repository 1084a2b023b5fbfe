//! Which queued files go to one investigation together: consecutive entries of the
//! queue (which is best score first) from one directory, so that a batch shares its
//! context (the same module, its neighbours) and the queue's order is kept.

use std::iter::Peekable;
use warden_store::CandidateFile;

/// The directory of a relative `/`-separated path ("" at the root).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Takes the next batch from `queue`: its first file, then the files right after it
/// in the same directory, up to `max` files in all (at least one).
pub(crate) fn next_batch<I: Iterator<Item = CandidateFile>>(
    queue: &mut Peekable<I>,
    max: usize,
) -> Vec<CandidateFile> {
    let Some(first) = queue.next() else {
        return Vec::new();
    };
    let mut batch = vec![first];
    while batch.len() < max {
        let dir = parent(&batch[0].path);
        match queue.next_if(|next| parent(&next.path) == dir) {
            Some(file) => batch.push(file),
            None => break,
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_store::FileStatus;

    fn file(path: &str) -> CandidateFile {
        CandidateFile {
            path: path.to_string(),
            language: None,
            score: 1.0,
            status: FileStatus::Pending,
            hits: Vec::new(),
        }
    }

    fn batches(paths: &[&str], max: usize) -> Vec<Vec<String>> {
        let mut queue = paths.iter().map(|p| file(p)).peekable();
        let mut out = Vec::new();
        loop {
            let batch = next_batch(&mut queue, max);
            if batch.is_empty() {
                return out;
            }
            out.push(batch.into_iter().map(|f| f.path).collect());
        }
    }

    #[test]
    fn consecutive_files_of_one_directory_go_together_up_to_the_size() {
        let got = batches(
            &[
                "a/1.py", "a/2.py", "a/3.py", "b/1.py", "a/4.py", "top.py", "x.py",
            ],
            2,
        );
        let want: Vec<Vec<&str>> = vec![
            vec!["a/1.py", "a/2.py"],
            vec!["a/3.py"],
            vec!["b/1.py"],
            vec!["a/4.py"],
            vec!["top.py", "x.py"],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_subdirectory_is_another_directory_and_size_one_is_one_file_each() {
        let got = batches(&["a/1.py", "a/b/2.py", "a/3.py"], 8);
        assert_eq!(got, vec![vec!["a/1.py"], vec!["a/b/2.py"], vec!["a/3.py"]]);
        assert_eq!(batches(&["a/1.py", "a/2.py"], 1).len(), 2);
        assert_eq!(batches(&["a/1.py", "a/2.py"], 0).len(), 2, "at least one");
        assert!(batches(&[], 3).is_empty());
    }
}

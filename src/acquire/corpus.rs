//! Corpus lists: CSV files `id,name,source,revision,stars` under `pipelines/corpora/`.
//!
//! Lines starting with `#` are comments (provenance of a generated list). `revision` and
//! `stars` may be empty. The id names the checkout folder, so it must be a plain file name.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use super::ProjectSpec;

const HEADER: [&str; 5] = ["id", "name", "source", "revision", "stars"];

/// Read a corpus CSV. Errors name the file and line; duplicate ids are an error.
pub fn read_corpus(path: &Path) -> anyhow::Result<Vec<ProjectSpec>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open corpus {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let headers = reader
        .headers()
        .with_context(|| format!("{}: cannot read the header line", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(name_col), Some(source_col)) =
        (column("id"), column("name"), column("source"))
    else {
        anyhow::bail!(
            "{}: the header must name the columns {} (found `{}`)",
            path.display(),
            HEADER.join(","),
            headers.iter().collect::<Vec<_>>().join(",")
        );
    };
    let (revision_col, stars_col) = (column("revision"), column("stars"));

    let mut specs = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            anyhow::anyhow!("{}:{line}: {e}", path.display())
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at = || format!("{}:{line}", path.display());
        let field = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let id = field(Some(id_col)).with_context(|| format!("{}: empty id", at()))?;
        check_id(id).with_context(at)?;
        let name =
            field(Some(name_col)).with_context(|| format!("{}: empty name for `{id}`", at()))?;
        let source = field(Some(source_col))
            .with_context(|| format!("{}: empty source for `{id}`", at()))?;
        let stars = match field(stars_col) {
            None => None,
            Some(s) => Some(s.parse::<u64>().with_context(|| {
                format!("{}: stars `{s}` of `{id}` is not a whole number", at())
            })?),
        };
        if let Some(first) = seen.insert(id.to_string(), line) {
            anyhow::bail!("{}: duplicate id `{id}` (first on line {first})", at());
        }
        specs.push(ProjectSpec {
            id: id.to_string(),
            name: name.to_string(),
            source: source.to_string(),
            revision: field(revision_col).map(str::to_string),
            stars,
        });
    }
    Ok(specs)
}

/// Write a corpus CSV, with `comment` lines (provenance) above the header.
pub fn write_corpus(path: &Path, comment: &[String], specs: &[ProjectSpec]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut buf = Vec::new();
    for line in comment {
        for l in line.lines() {
            buf.extend_from_slice(format!("# {l}\n").as_bytes());
        }
    }
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        w.write_record(HEADER)?;
        for s in specs {
            let stars = s.stars.map(|n| n.to_string()).unwrap_or_default();
            w.write_record([
                &s.id,
                &s.name,
                &s.source,
                s.revision.as_deref().unwrap_or(""),
                &stars,
            ])?;
        }
        w.flush()?;
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, &buf).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

/// An id becomes a folder name: letters, digits, `.`, `_`, `+`, `-`, not starting with `.`.
pub(crate) fn check_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'));
    anyhow::ensure!(
        ok,
        "id `{id}` must be letters, digits, `.`, `_`, `+` or `-` (it names a folder)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<Vec<ProjectSpec>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, text).unwrap();
        read_corpus(&path)
    }

    #[test]
    fn a_corpus_row_becomes_a_spec_with_optional_revision_and_stars() {
        let specs = read("# made by hand\nid,name,source,revision,stars\na,A,deb:x=1.0-1,1.0-1,\nb,B,fixtures/b,,12\n")
            .unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].revision.as_deref(), Some("1.0-1"));
        assert_eq!(specs[0].stars, None);
        assert_eq!(specs[1].revision, None);
        assert_eq!(specs[1].stars, Some(12));
    }

    #[test]
    fn written_corpora_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/c.csv");
        let specs = vec![ProjectSpec {
            id: "p".into(),
            name: "P, with comma".into(),
            source: "deb:p=1:2.0-1".into(),
            revision: Some("1:2.0-1".into()),
            stars: Some(3),
        }];
        write_corpus(&path, &["generated\nby a test".into()], &specs).unwrap();
        assert_eq!(read_corpus(&path).unwrap(), specs);
    }

    #[test]
    fn bad_rows_are_reported_with_file_and_line() {
        let err = format!("{:#}", read("id,name,source\na,A,x\na,B,y\n").unwrap_err());
        assert!(
            err.contains("c.csv:3") && err.contains("duplicate id `a`"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            read("id,name,source,revision,stars\na,A,x,,many\n").unwrap_err()
        );
        assert!(err.contains("c.csv:2") && err.contains("stars"), "{err}");
        let err = format!("{:#}", read("id,name,source\n../up,A,x\n").unwrap_err());
        assert!(
            err.contains("c.csv:2") && err.contains("names a folder"),
            "{err}"
        );
        let err = format!("{:#}", read("name,source\nA,x\n").unwrap_err());
        assert!(err.contains("header"), "{err}");
        let err = format!("{:#}", read("id,name,source\nb,,x\n").unwrap_err());
        assert!(
            err.contains("c.csv:2") && err.contains("empty name"),
            "{err}"
        );
    }
}

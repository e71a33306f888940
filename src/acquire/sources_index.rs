//! Reading apt's Sources indexes to find every Java source package.
//!
//! A source package is a Java project when it build-depends (`Build-Depends`, `-Indep` or
//! `-Arch`) on a JDK (`default-jdk*`, `openjdk-*-jdk*`), a Java build helper (javahelper,
//! maven-debian-helper, maven-repo-helper, gradle-debian-helper, ant, ...), or JUnit/TestNG,
//! or when its Section is `java`. When several suites list a package (bookworm and
//! bookworm-security, say) the highest version wins, the one `apt-get source` would pick.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use super::apt::deb822_stanzas;
use super::debian::version_compare;

/// One Java source package of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaSourcePackage {
    pub name: String,
    pub version: String,
    pub section: String,
    /// Sum of the sizes of the package's files (`Files:`), what a download would cost.
    pub source_bytes: u64,
    /// Why it counts as Java: the first matching build dependency, or `Section: java`.
    pub because: String,
}

/// Build dependencies that make a source package a Java project.
const JAVA_BUILD_DEPS: &[&str] = &[
    "javahelper",
    "maven-debian-helper",
    "maven-repo-helper",
    "gradle-debian-helper",
    "gradle",
    "maven",
    "ant",
    "ant-optional",
    "ant-contrib",
    "junit",
    "junit4",
    "junit5",
    "testng",
    "java-compiler",
    "ecj",
];

fn is_java_build_dep(name: &str) -> bool {
    JAVA_BUILD_DEPS.contains(&name)
        || name.starts_with("default-jdk")
        || (name.starts_with("openjdk-") && name.contains("-jdk"))
}

/// Parse one Sources index text into its stanzas' Java packages (before de-duplication).
pub fn parse_sources_index(text: &str) -> Vec<JavaSourcePackage> {
    let mut out = Vec::new();
    for stanza in deb822_stanzas(text) {
        let get = |key: &str| {
            stanza
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let (name, version) = (get("Package").trim(), get("Version").trim());
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let section = get("Section").trim().to_string();
        let deps = ["Build-Depends", "Build-Depends-Indep", "Build-Depends-Arch"]
            .iter()
            .flat_map(|k| dependency_names(get(k)))
            .find(|d| is_java_build_dep(d));
        let because = match (deps, section == "java" || section.ends_with("/java")) {
            (Some(d), _) => format!("build-depends on {d}"),
            (None, true) => "section java".to_string(),
            (None, false) => continue,
        };
        let source_bytes = get("Files")
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        out.push(JavaSourcePackage {
            name: name.to_string(),
            version: version.to_string(),
            section,
            source_bytes,
            because,
        });
    }
    out
}

/// Package names of a dependency field (`a (>= 1), b | c [amd64] <!nocheck>`).
fn dependency_names(field: &str) -> impl Iterator<Item = String> + '_ {
    field.split([',', '|']).filter_map(|alt| {
        let name = alt
            .trim()
            .split(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '<'))
            .next()?;
        let name = name.split(':').next()?; // `foo:native`
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// Every Java source package across the given Sources index files, one per name at its
/// highest version, sorted by name.
pub fn java_source_packages(
    indexes: &[impl AsRef<Path>],
) -> anyhow::Result<Vec<JavaSourcePackage>> {
    let mut best: BTreeMap<String, JavaSourcePackage> = BTreeMap::new();
    for path in indexes {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read Sources index {}", path.display()))?;
        for p in parse_sources_index(&text) {
            match best.get(&p.name) {
                Some(old) if version_compare(&old.version, &p.version).is_ge() => {}
                _ => {
                    best.insert(p.name.clone(), p);
                }
            }
        }
    }
    Ok(best.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "\
Package: guava-libraries
Version: 31.1-1
Build-Depends: debhelper-compat (= 13), default-jdk, junit4, maven-debian-helper
Section: java
Files:
 aaa 2331 guava-libraries_31.1-1.dsc
 bbb 3357924 guava-libraries_31.1.orig.tar.xz

Package: hello
Version: 2.10-3
Build-Depends: debhelper-compat (= 13)
Section: devel

Package: jsonp
Version: 1.0-1
Build-Depends-Indep: libfoo-java, openjdk-17-jdk-headless:native <!nocheck>
Section: libs

Package: docs-java
Version: 1-1
Build-Depends: debhelper
Section: contrib/java
";

    #[test]
    fn java_packages_are_found_by_build_dependency_or_section() {
        let found = parse_sources_index(INDEX);
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["guava-libraries", "jsonp", "docs-java"]);
        assert_eq!(found[0].source_bytes, 2331 + 3357924);
        assert_eq!(found[1].because, "build-depends on openjdk-17-jdk-headless");
        assert_eq!(found[2].because, "section java");
    }

    #[test]
    fn the_highest_version_across_suites_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a_Sources");
        let b = dir.path().join("b_Sources");
        std::fs::write(&a, "Package: x\nVersion: 1.0-1+deb12u1\nSection: java\n").unwrap();
        std::fs::write(&b, "Package: x\nVersion: 1.0-1\nSection: java\n").unwrap();
        let found = java_source_packages(&[a, b]).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, "1.0-1+deb12u1");
    }
}

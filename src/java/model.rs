//! The small Java model the miner works on: what one source file declares, with the text of
//! every method as written, so pairs can be assembled without keeping the syntax tree (or the
//! file) in memory.

/// One parsed `.java` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JavaFile {
    /// Path relative to the project root, with `/` separators.
    pub path: String,
    /// The `package` declaration (empty for the default package).
    pub package: String,
    pub imports: Vec<Import>,
    /// Every class-like declaration of the file in pre-order (an outer class comes before the
    /// classes nested in it); local and anonymous classes inside method bodies are part of
    /// their method, not classes of their own.
    pub classes: Vec<Class>,
    /// The tree has ERROR or MISSING nodes; what could be read is still here.
    pub has_syntax_errors: bool,
}

/// One `import` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The imported name without `static` and `.*` (`org.junit.Assert`, `org.junit`).
    pub path: String,
    pub is_static: bool,
    /// `import p.*;` (on demand).
    pub is_wildcard: bool,
}

/// The kind of a class-like declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassKind {
    Class,
    Interface,
    Enum,
    Record,
    Annotation,
}

/// An annotation as written: `@Test`, `@org.junit.Test`, `@Test(expected = X.class)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// The name as written, possibly qualified.
    pub name: String,
    /// The parenthesised arguments as written, if any.
    pub arguments: Option<String>,
}

impl Annotation {
    /// The name without its package (`org.junit.Test` → `Test`).
    pub fn simple_name(&self) -> &str {
        simple_name(&self.name)
    }
}

/// A class, interface, enum, record or annotation type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub kind: ClassKind,
    /// The simple name (`Inner`).
    pub name: String,
    /// The name inside its file, outer classes first (`Outer.Inner`).
    pub nested_name: String,
    /// Package and nested name (`p.Outer.Inner`).
    pub qualified_name: String,
    /// Index in [`JavaFile::classes`] of the enclosing class.
    pub outer: Option<usize>,
    /// Keyword modifiers (`public`, `abstract`, `static`, …).
    pub modifiers: Vec<String>,
    pub annotations: Vec<Annotation>,
    /// `<T extends Comparable<T>>` as written.
    pub type_parameters: Option<String>,
    /// The superclass as written, type arguments included (`Base<String>`).
    pub superclass: Option<String>,
    /// Implemented (or, for interfaces, extended) interfaces as written.
    pub interfaces: Vec<String>,
    /// The declaration up to its body, annotations left out, whitespace collapsed:
    /// `public final class Foo<T> extends Bar implements Baz`.
    pub signature: String,
    pub methods: Vec<Method>,
    pub constructors: Vec<Method>,
    /// Field (and interface constant) declarations as written.
    pub fields: Vec<String>,
    /// 1-based line of the declaration.
    pub line: usize,
}

impl Class {
    pub fn has_modifier(&self, modifier: &str) -> bool {
        self.modifiers.iter().any(|m| m == modifier)
    }

    /// The superclass's name without type arguments (`a.Base<T>` → `a.Base`).
    pub fn superclass_name(&self) -> Option<&str> {
        self.superclass.as_deref().map(erase_type_arguments)
    }
}

/// One formal parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The type as written; varargs end in `...`.
    pub ty: String,
    pub name: String,
}

/// A method or constructor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub name: String,
    pub parameters: Vec<Parameter>,
    pub modifiers: Vec<String>,
    pub annotations: Vec<Annotation>,
    /// `None` for constructors.
    pub return_type: Option<String>,
    /// Modifiers, type parameters, return type, name, parameters and `throws`, as written
    /// with whitespace collapsed and annotations left out: `public int foo(int a)`.
    pub signature: String,
    /// The whole declaration as written, annotations included.
    pub text: String,
    /// Whether it has a body (abstract, interface and native methods do not).
    pub has_body: bool,
    /// Method invocations in the body (lambdas and anonymous classes included), in order;
    /// empty when parsed with [`Detail::Declarations`](super::Detail::Declarations).
    pub calls: Vec<Call>,
    /// `new T(...)` expressions in the body, `name` being `T` without type arguments.
    pub creations: Vec<Call>,
    /// 1-based line of the declaration's first token (its first annotation, if any).
    pub line: usize,
}

impl Method {
    pub fn has_modifier(&self, modifier: &str) -> bool {
        self.modifiers.iter().any(|m| m == modifier)
    }

    pub fn is_varargs(&self) -> bool {
        self.parameters
            .last()
            .is_some_and(|p| p.ty.ends_with("..."))
    }

    /// Whether a call with `args` arguments can target this method.
    pub fn accepts(&self, args: usize) -> bool {
        let n = self.parameters.len();
        if self.is_varargs() {
            args + 1 >= n
        } else {
            args == n
        }
    }
}

/// A method invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    /// Number of arguments.
    pub args: usize,
    /// The receiver expression as written (`list`, `this.x`, `Foo`), cut to
    /// [`MAX_RECEIVER_BYTES`] so long call chains stay linear in size.
    pub receiver: Option<String>,
}

/// Receivers are cut to this many bytes: in a chain `a.b().c().d()` every receiver is a prefix
/// of the next, so keeping them whole would be quadratic in the chain's length.
pub const MAX_RECEIVER_BYTES: usize = 120;

/// `a.b.C` → `C`.
pub fn simple_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// `Foo<Bar<Baz>>` → `Foo`, `a.b.Foo<X>.Inner` → `a.b.Foo`; trims surrounding whitespace.
pub fn erase_type_arguments(ty: &str) -> &str {
    ty.split('<').next().unwrap_or(ty).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_without_packages_and_type_arguments() {
        assert_eq!(simple_name("org.junit.Test"), "Test");
        assert_eq!(simple_name("Test"), "Test");
        assert_eq!(erase_type_arguments(" Base<Map<K, V>> "), "Base");
        assert_eq!(
            erase_type_arguments("junit.framework.TestCase"),
            "junit.framework.TestCase"
        );
    }

    #[test]
    fn varargs_accept_any_count_from_the_fixed_ones() {
        let mut m = Method {
            name: "f".into(),
            parameters: vec![
                Parameter {
                    ty: "int".into(),
                    name: "a".into(),
                },
                Parameter {
                    ty: "String...".into(),
                    name: "b".into(),
                },
            ],
            modifiers: vec![],
            annotations: vec![],
            return_type: Some("void".into()),
            signature: String::new(),
            text: String::new(),
            has_body: true,
            calls: vec![],
            creations: vec![],
            line: 1,
        };
        assert!(m.accepts(1) && m.accepts(2) && m.accepts(5));
        assert!(!m.accepts(0));
        m.parameters.pop();
        assert!(m.accepts(1) && !m.accepts(2));
    }
}

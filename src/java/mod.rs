//! Java source → a small model (classes, methods, calls) with tree-sitter-java.
//!
//! The model keeps the text of declarations as written, so the miner can assemble pairs and
//! focal-class context after the syntax tree (and the file) are dropped: one file's tree is
//! alive at a time per thread.

mod model;
mod parse;

pub use model::{
    Annotation, Call, Class, ClassKind, Import, JavaFile, MAX_RECEIVER_BYTES, Method, Parameter,
    erase_type_arguments, simple_name,
};
pub use parse::{Detail, JavaParser, extract, kind_id, language};

//! `tailor serve`: the HTTP/JSON service over one base and its registered projects.

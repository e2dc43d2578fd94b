//! Parsing the IR's text form.

//! placeholder: the auditor (issue 4)
#![forbid(unsafe_code)]

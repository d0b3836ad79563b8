//! Current token, grant and client state folded from events: one pure fold shared by
//! the live server, `grantlog projection rebuild` and `grantlog audit replay`.
//!
//! May depend on: `grantlog-domain` (the events it folds) and `grantlog-store` (to read
//! them and to write read models in the append's transaction). Built with issue #4.

//! What a grant lets a client do: a set of permissions.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::ValueError;

/// One thing a client may do with an owner's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// `photos:read` — list the chosen photos and fetch them. All the seed story needs.
    PhotosRead,
    /// `photos:write` — change the chosen photos. No endpoint uses it yet; it exists so
    /// that "Jane does not want Beppa to change her photos" is a choice the domain can
    /// express and enforce (narrowing means something only with more than one thing).
    PhotosWrite,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 2] = [Self::PhotosRead, Self::PhotosWrite];

    /// Parses one permission name: `photos:read` or `photos:write`.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|permission| permission.as_str() == text)
            .ok_or(ValueError::new("scope", "permissions are photos:read and photos:write"))
    }

    /// The permission's name, e.g. `photos:read`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PhotosRead => "photos:read",
            Self::PhotosWrite => "photos:write",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Permission`]s. Written as space-separated names (`photos:read
/// photos:write`, the usual OAuth convention) and serialized as a sorted list of names,
/// so equal scopes always serialize — and hash into the chain — identically.
///
/// RFC 5849 has no scope parameter, and standard OAuth 1.0a clients send none; the
/// server decides what such a client is taken to ask for (least privilege:
/// `photos:read`). A grant never asks for an empty scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(BTreeSet<Permission>);

impl Scope {
    /// Parses space-separated permission names. Repeats are harmless; an unknown name
    /// is an error. An empty string is the empty scope (which commands refuse).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        text.split(' ').filter(|name| !name.is_empty()).map(Permission::parse).collect::<Result<_, _>>().map(Self)
    }

    /// The scope holding exactly these permissions.
    pub fn of(permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self(permissions.into_iter().collect())
    }

    /// Whether it holds no permission at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether it holds `permission`.
    pub fn contains(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }

    /// Whether every permission here is also in `other` (equal scopes included).
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The permissions, in name order.
    pub fn permissions(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(Permission::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut names: Vec<&str> = self.0.iter().map(Permission::as_str).collect();
        // Sorted by name explicitly, not by the enum's order, so adding a permission
        // can never change how an existing scope serializes.
        names.sort_unstable();
        names.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|name| Permission::parse(name))
            .collect::<Result<_, _>>()
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_separated_names() {
        let scope = Scope::parse("photos:write  photos:read photos:read").unwrap();
        assert_eq!(scope, Scope::of(Permission::ALL));
        assert_eq!(scope.to_string(), "photos:read photos:write");
        assert!(Scope::parse("").unwrap().is_empty());
        assert!(Scope::parse("photos:delete").is_err());
        assert!(Scope::parse("photos:read\tphotos:write").is_err());
    }

    #[test]
    fn subsets_narrow() {
        let read = Scope::of([Permission::PhotosRead]);
        let both = Scope::of(Permission::ALL);
        assert!(read.is_subset_of(&both));
        assert!(read.is_subset_of(&read));
        assert!(!both.is_subset_of(&read));
        assert!(Scope::default().is_subset_of(&read));
    }

    #[test]
    fn serializes_as_a_sorted_list() {
        let both = Scope::parse("photos:write photos:read").unwrap();
        assert_eq!(serde_json::to_string(&both).unwrap(), r#"["photos:read","photos:write"]"#);
        assert_eq!(serde_json::from_str::<Scope>(r#"["photos:write","photos:read"]"#).unwrap(), both);
        assert!(serde_json::from_str::<Scope>(r#"["photos:all"]"#).is_err());
    }
}

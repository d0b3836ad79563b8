//! The Merkle tree's stored nodes (`merkle_nodes`), kept in the append's transaction:
//! the arithmetic is `grantlog_tlog::merkle`'s, the rows are here. Leaf index =
//! position − 1, and the leaf is the event's canonical envelope, the bytes the hash
//! chain covers.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use grantlog_tlog::merkle::{self, Appender, Hash, NodeId};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::error::StoreError;
use crate::store::values_placeholders;

/// Nodes written per INSERT: three values each, well below both databases' limits.
const NODES_PER_INSERT: usize = 300;

/// The stored nodes among `ids` (one statement; the caller says what a missing one
/// means).
pub(crate) async fn read_nodes(
    connection: &mut AnyConnection,
    ids: &BTreeSet<NodeId>,
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted: Vec<String> =
        (0..ids.len()).map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2)).collect();
    let sql = format!("SELECT level, idx, hash FROM merkle_nodes WHERE {}", wanted.join(" OR "));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(i64::from(id.level)).bind(to_i64(id.index));
    }
    let mut nodes = HashMap::with_capacity(ids.len());
    for row in query.fetch_all(&mut *connection).await? {
        let level = u8::try_from(row.try_get::<i64, _>("level")?).map_err(|_| corrupt("a level"))?;
        let index = u64::try_from(row.try_get::<i64, _>("idx")?).map_err(|_| corrupt("an index"))?;
        let hash = Hash::try_from(row.try_get::<Vec<u8>, _>("hash")?).map_err(|_| corrupt("a hash"))?;
        nodes.insert(NodeId { level, index }, hash);
    }
    Ok(nodes)
}

/// Appends `leaves` to the tree of `size` leaves: reads its right edge, writes every
/// complete subtree the new leaves close. Call it holding the append lock.
pub(crate) async fn extend(connection: &mut AnyConnection, size: u64, leaves: &[Hash]) -> Result<(), StoreError> {
    let needs: BTreeSet<NodeId> = Appender::needs(size).into_iter().collect();
    let edge = read_nodes(connection, &needs).await?;
    let mut appender = Appender::new(size, edge).map_err(|missing| {
        StoreError::Corrupt(format!("{missing}: the tree is behind the log (run grantlog migrate) or was edited"))
    })?;
    for leaf in leaves {
        appender.push(*leaf);
    }
    for chunk in appender.added().chunks(NODES_PER_INSERT) {
        let sql = format!("INSERT INTO merkle_nodes (level, idx, hash) VALUES {}", values_placeholders(chunk.len(), 3));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (node, hash) in chunk {
            query = query.bind(i64::from(node.level)).bind(to_i64(node.index)).bind(hash.to_vec());
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// How many leaves the stored tree holds.
pub(crate) async fn size(connection: &mut AnyConnection) -> Result<u64, StoreError> {
    let leaves: i64 = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS leaves FROM merkle_nodes WHERE level = 0")
        .fetch_one(&mut *connection)
        .await?
        .try_get("leaves")?;
    u64::try_from(leaves).map_err(|_| corrupt("the tree's size"))
}

/// The hashes of `ranges` of leaves, read from the stored nodes; a missing node is
/// a tree that does not cover them.
pub(crate) async fn range_hashes(
    connection: &mut AnyConnection,
    ranges: &[Range<u64>],
) -> Result<Vec<Hash>, StoreError> {
    let nodes = read_nodes(connection, &merkle::nodes_for(ranges)).await?;
    merkle::range_hashes(ranges, &nodes).map_err(|missing| corrupt(&format!("node {missing:?}")))
}

/// The hash of one range of leaves.
pub(crate) async fn range_hash(connection: &mut AnyConnection, range: Range<u64>) -> Result<Hash, StoreError> {
    Ok(range_hashes(connection, std::slice::from_ref(&range)).await?[0])
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("merkle_nodes: {what} is missing or unreadable"))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).expect("fewer than 2^63 leaves")
}

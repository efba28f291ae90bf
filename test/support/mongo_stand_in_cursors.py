"""Cursors of the MongoDB stand-in (mongo-stand-in.py). A find in natural order or in _id order reads the
live collection batch by batch, as a server's collection or _id-index scan does, so a document written
between two getMores shows in the later batch when the scan has not passed it; any other sort, and every
aggregate, is computed whole when the cursor opens, as a server's blocking sort stage does.

What remains different from a real server (no snapshot either way, but not the same interleavings):
- a find sorted on another field that an index could serve is live on a server, a snapshot here;
- an aggregate whose pipeline streams ($match, $project…) is live on a server, a snapshot here;
- natural order is mongomock's insertion order; a document deleted and inserted again with the same _id
  is not returned twice here, where a server's collection scan could meet it again at the end.

mongomock 4.1 keeps a collection's documents in insertion order behind Collection._store, and projects
with Collection._copy_only_fields; both are read here, as its public find() copies every document up front.
"""
import operator

import bson
from mongomock import filtering, helpers

from mongo_stand_in_rules import bson_size

DEFAULT_FIRST_BATCH_DOCS = 101  # a server's first batch when the client names no batchSize
MAX_BATCH_BYTES = 16 * 1024 * 1024  # a server ends a batch before it would pass 16 MiB (one document always fits)


def open_find_cursor(coll, cmd):
    """The cursor for a find command: live when the order is natural or _id, else a snapshot."""
    query = helpers.patch_datetime_awareness_in_document(cmd.get('filter') or {})
    projection = cmd.get('projection') or None
    sort = list(cmd['sort'].items()) if cmd.get('sort') else []
    skip, limit = int(cmd.get('skip') or 0), abs(int(cmd.get('limit') or 0))
    if not sort or sort == [('$natural', 1)]:
        return LiveCursor(coll, query, projection, skip, limit, None)
    if len(sort) == 1 and sort[0][0] == '_id':
        return LiveCursor(coll, query, projection, skip, limit, 1 if sort[0][1] >= 0 else -1)
    docs = list(coll.find(query, projection, sort=sort, skip=skip, limit=limit))
    return SnapshotCursor(docs)


class SnapshotCursor:
    def __init__(self, docs):
        self.docs, self.pos = docs, 0

    def next_batch(self, max_docs):
        """Up to max_docs (None: no count limit) within MAX_BATCH_BYTES; True when nothing is left."""
        batch, size = [], 0
        while self.pos < len(self.docs) and (max_docs is None or len(batch) < max_docs):
            doc = self.docs[self.pos]
            size += bson_size(doc)
            if batch and size > MAX_BATCH_BYTES:
                break
            batch.append(doc)
            self.pos += 1
        return batch, self.pos >= len(self.docs)


def id_key(doc):
    value = doc['_id']
    try:
        return type(value), hash(value), value
    except TypeError:  # a document or an array
        return bson.encode({'_id': value})


class LiveCursor:
    """A scan of the live collection: `direction` None walks natural order and remembers the _ids it has
    returned (a server remembers its place in the record store), 1 or -1 walks _id order from the last _id
    returned (a server's place in the _id index)."""

    def __init__(self, coll, query, projection, skip, limit, direction):
        self.coll, self.query, self.projection, self.direction = coll, query, projection, direction
        self.skip_left, self.limit_left = skip, limit or None
        self.returned, self.last_id = set(), None

    def candidates(self):
        docs = self.coll._store.documents  # live, in insertion order, not copied
        if self.direction is None:
            return (d for d in docs if filtering.filter_applies(self.query, d) and id_key(d) not in self.returned)
        beyond = operator.gt if self.direction > 0 else operator.lt
        ahead = [d for d in docs if (self.last_id is None or filtering.bson_compare(beyond, d['_id'], self.last_id))
                 and filtering.filter_applies(self.query, d)]
        return iter(sorted(ahead, key=lambda d: filtering.BsonComparable(d['_id']), reverse=self.direction < 0))

    def passed(self, doc):
        if self.direction is None:
            self.returned.add(id_key(doc))
        else:
            self.last_id = doc['_id']

    def next_batch(self, max_docs):
        """Like SnapshotCursor.next_batch. Exhausted only when the scan ran out (or the limit was reached)
        while filling the batch: a full batch leaves the cursor open without looking further, as on a server,
        so what is written before the next getMore can still be found."""
        if self.limit_left is not None:
            max_docs = self.limit_left if max_docs is None else min(max_docs, self.limit_left)
        batch, size, ran_out = [], 0, max_docs != 0
        for doc in self.candidates() if max_docs != 0 else ():
            if self.skip_left:
                self.skip_left -= 1
                self.passed(doc)
                continue
            projected = self.coll._copy_only_fields(doc, self.projection, dict)
            size += bson_size(projected)
            if batch and size > MAX_BATCH_BYTES:
                ran_out = False
                break
            batch.append(projected)
            self.passed(doc)
            if max_docs is not None and len(batch) >= max_docs:
                ran_out = False
                break
        if self.limit_left is not None:
            self.limit_left -= len(batch)
        return batch, ran_out or self.limit_left == 0

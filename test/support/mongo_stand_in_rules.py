"""What a real MongoDB refuses that mongomock would store: document sizes and field names, checked by the
stand-in (mongo-stand-in.py) before mongomock sees a write. Where server versions differ the stand-in is as
strict as the oldest one Ganymede supports, 4.4; each refusal names the server code and message it copies.

Not refused, because no server 3.6+ refuses them (SERVER-24174, 3.6.0): dots in field names anywhere, and
'$'-prefixed names nested in an inserted document. A NUL byte in a key never reaches a server: the Node
driver's BSON serializer refuses it (BSONError) and so does pymongo's.
"""
from datetime import datetime

import bson
import mongomock
from bson.binary import Binary
from bson.int64 import Int64
from bson.objectid import ObjectId

MAX_USER_BSON_BYTES = 16 * 1024 * 1024  # BSONObjMaxUserSize: a stored document
MAX_INTERNAL_BSON_BYTES = MAX_USER_BSON_BYTES + 16 * 1024  # BSONObjMaxInternalSize: any BSON object received
# The update operators whose values become stored fields; 4.4 checks those fields for storage as it
# checks a replacement ($push/$addToSet values would be too, but Ganymede does not push documents).
STORED_VALUE_OPERATORS = ('$set', '$setOnInsert')
DBREF_FIELDS = ('$ref', '$id', '$db')


def refused(code, errmsg):
    return mongomock.OperationFailure(errmsg, code)


def bson_size(doc):
    """Bytes of `doc` as BSON, counted without encoding it: Debian's pymongo has no C extension, and its
    pure-Python encoder takes 1.5 s for a 16 MiB document."""
    return 5 + sum(element_size(name, value) for name, value in doc.items())


def element_size(name, value):
    return 2 + len(name.encode('utf-8')) + value_size(value)


def value_size(value):
    if isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return 5 + (len(value) if value.isascii() else len(value.encode('utf-8')))
    if isinstance(value, Int64):
        return 8
    if isinstance(value, int):
        return 4 if -2 ** 31 <= value < 2 ** 31 else 8
    if isinstance(value, (float, datetime)):
        return 8
    if value is None:
        return 0
    if isinstance(value, dict):
        return bson_size(value)
    if isinstance(value, (list, tuple)):
        return 5 + sum(element_size(str(index), item) for index, item in enumerate(value))
    if isinstance(value, ObjectId):
        return 12
    if isinstance(value, bytes) and not (isinstance(value, Binary) and value.subtype == 2):
        return 5 + len(value)
    return len(bson.encode({'': value})) - 7  # the rarer types; 7: a document's frame and an empty name


def check_received(docs):
    """A server parses each document of a command (or each of an OP_MSG document sequence) before running
    it, and fails the whole command with BSONObjectTooLarge for one over 16 MiB + 16 KiB. The driver's own
    check (bulk writes refuse a document of maxBsonObjectSize or more) does not cover insertOne, updateOne,
    replaceOne or findOneAndReplace, and its serializer stops only at 17 MiB."""
    for doc in docs:
        size = bson_size(doc)
        if size > MAX_INTERNAL_BSON_BYTES:
            first = next(iter(doc.items()), ('EOO', ''))
            raise refused(10334, 'BSONObj size: %d (0x%X) is invalid. Size must be between 0 and 16793600(16MB) '
                                 'First element: %s: %s' % (size, size, first[0], str(first[1])[:80]))


def check_insert(doc):
    """insert: 4.4's fixDocumentForInsert (5.0+ accepts a top-level '$' field; the size rule holds in all)."""
    size = bson_size(doc)
    if size > MAX_USER_BSON_BYTES:
        raise refused(2, 'object to insert too large. size in bytes: %d, max size: %d' % (size, MAX_USER_BSON_BYTES))
    for name in doc:
        if name.startswith('$'):
            raise refused(2, "Document can't have $ prefixed field names: %s" % name)  # BadValue
    kind = id_kind(doc)
    if kind:
        raise refused(2, "can't use %s for _id" % ('an ' + kind if kind == 'array' else 'a ' + kind))


def id_kind(doc):
    """'array' or 'regex' for an _id no server stores, else None."""
    value = doc.get('_id')
    return 'array' if isinstance(value, list) else 'regex' if isinstance(value, bson.regex.Regex) else None


def check_replacement(doc):
    """A replacement (update without operators, findAndModify's, bulk replaceOne) is checked for storage:
    4.4 refuses a '$'-prefixed name at any depth (DollarPrefixedFieldName, 52), 5.0+ only at the top level.
    DBRef fields ($ref, $id, $db) are allowed, as the server allows them."""
    check_stored_names(doc, '')
    kind = id_kind(doc)
    if kind:
        raise refused(53, "The '_id' value cannot be of type %s" % kind)  # InvalidIdField


def check_operators(update):
    """$set/$setOnInsert: 4.4 checks the fields they store as it checks a replacement's, and a path part
    that starts with '$' and is not positional ($, $[], $[id]) names a field no server stores."""
    for operator in STORED_VALUE_OPERATORS:
        for path, value in (update.get(operator) or {}).items():
            for part in path.split('.'):
                if part.startswith('$') and part != '$' and not (part.startswith('$[') and part.endswith(']')):
                    raise dollar_prefixed(part, path)
            if isinstance(value, (dict, list)):
                check_stored_names(value, path)


def check_stored_names(value, path):
    if isinstance(value, list):
        for index, item in enumerate(value):  # an array's own element names are indexes, not checked
            if isinstance(item, (dict, list)):
                check_stored_names(item, '%s.%d' % (path, index) if path else str(index))
        return
    for name, item in value.items():
        full = '%s.%s' % (path, name) if path else name
        if name.startswith('$') and not (name in DBREF_FIELDS and '$ref' in value and '$id' in value):
            raise dollar_prefixed(name, full)
        if isinstance(item, (dict, list)):
            check_stored_names(item, full)


def dollar_prefixed(name, full):
    return refused(52, "The dollar ($) prefixed field '%s' in '%s' is not valid for storage." % (name, full))


def check_updated_size(doc, inserted):
    """The document an update produced: 17419 for an existing one (later servers name it 10334
    BSONObjectTooLarge, with the same message), 17420 for one an upsert inserts."""
    if bson_size(doc) <= MAX_USER_BSON_BYTES:
        return
    if inserted:
        raise refused(17420, 'Document to upsert is larger than %d' % MAX_USER_BSON_BYTES)
    raise refused(17419, 'Resulting document after update is larger than %d' % MAX_USER_BSON_BYTES)


def upserted_of(raw_result):
    return raw_result.get('upserted')


def is_operator_update(change):
    """As a server decides: by the first field alone; a later '$' field makes a replacement invalid."""
    return next(iter(change), '').startswith('$')


def replacement_size(replacement, query):
    """The size of the document a replacement stores, known without finding it when the _id is in the
    replacement or an equality in the filter (as in every replaceOne of the warehouse); else None."""
    if '_id' in replacement:
        return bson_size(replacement)
    if '_id' not in query or (isinstance(query['_id'], dict) and any(k.startswith('$') for k in query['_id'])):
        return None
    # 8: an int32 _id in the filter may match a double one stored
    return bson_size(replacement) + element_size('_id', query['_id']) + 8


def checked_write(coll, query, sort, multi, write, upserted_id, replacement=None):
    """Runs a mongomock update, then checks each document it stored against the 16 MiB limit, as a server
    checks each before storing it. A server stops at the first one over, so that one and every later one
    is put back as it was (an upserted one removed), and the write fails. A replacement whose size is known
    to fit skips that: mongomock scans the collection for every lookup, and bulk writes have thousands."""
    known = replacement_size(replacement, query) if replacement is not None else None
    if known is not None and known <= MAX_USER_BSON_BYTES:
        return write()
    before = list(coll.find(query, sort=sort)) if multi else [d for d in [coll.find_one(query, sort=sort)] if d]
    result = write()
    for index, original in enumerate(before):
        stored = coll.find_one({'_id': original['_id']})
        if stored is not None and bson_size(stored) > MAX_USER_BSON_BYTES:
            for later in before[index:]:
                coll.replace_one({'_id': later['_id']}, later)
            check_updated_size(stored, inserted=False)
    new_id = None if before else upserted_id(result)
    inserted = coll.find_one({'_id': new_id}) if new_id is not None else None
    if inserted is not None and bson_size(inserted) > MAX_USER_BSON_BYTES:
        coll.delete_one({'_id': new_id})
        check_updated_size(inserted, inserted=True)
    return result

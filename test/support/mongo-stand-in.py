"""A MongoDB-wire STAND-IN for Ganymede's test rig, not MongoDB: MockupDB (python3-mockupdb) speaks the
wire protocol on 127.0.0.1 and an in-memory mongomock client (python3-mongomock) answers the commands
the official Node driver 7.x sends; any other command gets an error reply, never a hang. Transactions
are refused as a standalone mongod refuses them (mongomock cannot roll back). Writes a real server refuses
(over 16 MiB, '$'-prefixed names where 4.4 refuses them) are refused with its codes (mongo_stand_in_rules),
and finds in natural or _id order read the live collection batch by batch (mongo_stand_in_cursors).

Usage: /usr/bin/python3 mongo-stand-in.py PORT [--exit-on-stdin-eof] [--record-commands]   (PORT 0: a free one)
Prints `READY <port>` once listening (`READY <port> <file>` when recording); exits on SIGTERM/SIGINT, or when
stdin closes if asked to. --record-commands appends one JSON line per command on a collection to a temporary
file, removed at exit, for tests that check what the warehouse sends (e.g. that every filter carries `geo`).
"""
import errno
import itertools
import signal
import socket
import sys
import threading
from collections import OrderedDict

try:
    import mockupdb
    import mongomock
    from bson.int64 import Int64
    from mongomock import filtering
    from mongomock import collection as mongomock_collection
    from pymongo import ReturnDocument
except ImportError as missing:
    sys.exit('mongo stand-in: %s. It needs Debian\'s packages, run with /usr/bin/python3: '
             'apt-get install python3-mockupdb python3-mongomock' % missing)

# Beside this script, so on sys.path[0]; no __pycache__ left in the source tree.
sys.dont_write_bytecode = True
import mongo_stand_in_rules as rules  # noqa: E402
from mongo_stand_in_commands import CommandLog  # noqa: E402
from mongo_stand_in_cursors import DEFAULT_FIRST_BATCH_DOCS, SnapshotCursor, open_find_cursor  # noqa: E402

MAX_WIRE_VERSION = 17  # MongoDB 6.0; driver 7.x accepts 9 (4.4) to 29


class BSONWithoutKeyChecks:
    """mongomock 4.1 encodes every stored document, only to validate it, with pymongo's check_keys, which
    refuses any '.' or '$' in a key: the rule of servers before 3.6 and of drivers before 5.0, not of a 4.4+
    server. The stand-in applies a server's rules itself (mongo_stand_in_rules); what it stores was decoded
    from BSON, so it encodes, and encoding it again (1.5 s for 16 MiB in pure Python) proves nothing."""

    @staticmethod
    def encode(document, check_keys=False, codec_options=None):
        return b''


mongomock_collection.BSON = BSONWithoutKeyChecks


def receive_exactly(sock, length):
    """mockupdb 1.8 reads a message by concatenating bytes, quadratic in its size, which the 16 MiB
    documents of the size-limit tests make slow."""
    message = bytearray()
    while len(message) < length:
        chunk = sock.recv(length - len(message))
        if not chunk:
            raise socket.error(errno.ECONNRESET, 'closed')
        message += chunk
    return bytes(message)


mockupdb.mock_server_receive = receive_exactly
IDENTITY = {'name': 'ganymede mongo-stand-in', 'wire': 'mockupdb ' + mockupdb.__version__,
            'engine': 'mongomock ' + mongomock.__version__}


def error_fields(error):
    """{code, errmsg} for a failed command or write. mongomock says only 'E11000 Duplicate Key Error'
    where a real server also names the index and the key."""
    text = str(error) or type(error).__name__
    if isinstance(error, NotImplementedError):
        return {'code': 238, 'errmsg': text}  # NotImplemented
    if isinstance(error, mongomock.OperationFailure):
        return {'code': getattr(error, 'code', None) or 2, 'errmsg': text}
    return {'code': 2, 'errmsg': 'stand-in: %s: %s' % (type(error).__name__, text)}  # BadValue


def failure(code, errmsg):
    return mongomock.OperationFailure(errmsg, code)


def refuse_options(cmd, *names):
    for name in names:
        if cmd.get(name) is not None:
            raise NotImplementedError('stand-in does not support %s' % name)


class StandIn:
    def __init__(self, command_log=None):
        self.command_log = command_log
        self.client = mongomock.MongoClient()
        self.cursors = {}
        self.cursor_ids = itertools.count(1)
        self.connection_ids = itertools.count(1)
        self.port = None

    def answer(self, request):
        """MockupDB autoresponder for every request; runs under MockupDB's lock, one at a time."""
        if not isinstance(request, mockupdb.CommandBase):
            return request.hangup()  # legacy opcodes: driver 7.x never sends them
        cmd = request.doc
        name = request.command_name
        db = cmd.get('$db') or request.namespace.split('.', 1)[0]
        handler = getattr(self, 'cmd_' + name.lower(), None) if name else None
        if self.command_log is not None and name:
            self.command_log.record(db, name, cmd)
        try:
            if handler is None:
                raise failure(59, 'stand-in does not support %s' % name)
            if 'txnNumber' in cmd:
                raise failure(20, 'Transaction numbers are only allowed on a replica set member or mongos')
            reply = handler(db, cmd)
        except Exception as error:  # noqa: BLE001 - every failure must reach the client as a reply
            reply = dict(error_fields(error), ok=0)
        # An unacknowledged (w:0) write sets moreToCome: the client reads no reply.
        if isinstance(request, mockupdb.OpMsg) and request.flags & mockupdb.OP_MSG_FLAGS['moreToCome']:
            return True
        return request.replies(reply)

    # --- handshake and server ---
    def cmd_hello(self, db, cmd):
        return {'helloOk': True, 'ismaster': True, 'isWritablePrimary': True,
                'minWireVersion': 0, 'maxWireVersion': MAX_WIRE_VERSION,
                'maxBsonObjectSize': 16 * 1024 * 1024, 'maxMessageSizeBytes': 48000000,
                'maxWriteBatchSize': 100000, 'localTime': mongomock.utcnow(),
                # Sessions are advertised (a 6.0 standalone has them); lsid is ignored.
                'logicalSessionTimeoutMinutes': 30, 'connectionId': next(self.connection_ids),
                'readOnly': False, 'standIn': dict(IDENTITY, port=self.port)}

    cmd_ismaster = cmd_hello

    def cmd_buildinfo(self, db, cmd):
        return {'version': '6.0.0', 'versionArray': [6, 0, 0, 0], 'gitVersion': 'stand-in', 'bits': 64,
                'maxBsonObjectSize': 16 * 1024 * 1024, 'standIn': dict(IDENTITY, port=self.port)}

    def cmd_ping(self, db, cmd):
        return {}

    cmd_endsessions = cmd_ping

    # --- cursors ---
    def cursor_reply(self, ns, cursor, batch_size):
        """The first batch; batchSize 0 opens the cursor with none, as a server does."""
        cursor_id = next(self.cursor_ids)
        self.cursors[cursor_id] = {'ns': ns, 'cursor': cursor}
        return self.next_batch(cursor_id, 'firstBatch', DEFAULT_FIRST_BATCH_DOCS if batch_size is None else batch_size)

    def next_batch(self, cursor_id, field, max_docs):
        entry = self.cursors[cursor_id]
        batch, exhausted = entry['cursor'].next_batch(max_docs)
        if exhausted:
            del self.cursors[cursor_id]
        return {'cursor': {field: batch, 'id': Int64(0 if exhausted else cursor_id), 'ns': entry['ns']}}

    def cmd_getmore(self, db, cmd):
        cursor_id = int(cmd['getMore'])
        if cursor_id not in self.cursors:
            raise failure(43, 'cursor id %d not found' % cursor_id)
        return self.next_batch(cursor_id, 'nextBatch', cmd.get('batchSize') or None)  # none: up to 16 MiB

    def cmd_killcursors(self, db, cmd):
        ids = [int(i) for i in cmd.get('cursors', [])]
        killed = [Int64(i) for i in ids if self.cursors.pop(i, None) is not None]
        return {'cursorsKilled': killed, 'cursorsNotFound': [Int64(i) for i in ids if Int64(i) not in killed],
                'cursorsAlive': [], 'cursorsUnknown': []}

    # --- reads ---
    def cmd_find(self, db, cmd):
        refuse_options(cmd, 'collation', 'let', 'min', 'max', 'tailable')
        cursor = open_find_cursor(self.client[db][cmd['find']], cmd)
        ns = '%s.%s' % (db, cmd['find'])
        if cmd.get('singleBatch'):  # findOne, a negative limit: one batch, the cursor closed after it
            batch, _ = cursor.next_batch(cmd.get('batchSize'))
            return {'cursor': {'firstBatch': batch, 'id': Int64(0), 'ns': ns}}
        return self.cursor_reply(ns, cursor, cmd.get('batchSize'))

    def cmd_aggregate(self, db, cmd):
        refuse_options(cmd, 'collation', 'let', 'explain')
        if not isinstance(cmd['aggregate'], str):
            raise NotImplementedError('stand-in does not support database-level aggregate')
        docs = list(self.client[db][cmd['aggregate']].aggregate(cmd.get('pipeline', [])))
        return self.cursor_reply('%s.%s' % (db, cmd['aggregate']), SnapshotCursor(docs),
                                 cmd.get('cursor', {}).get('batchSize'))

    def cmd_count(self, db, cmd):
        refuse_options(cmd, 'collation')
        kwargs = {k: int(cmd[k]) for k in ('skip', 'limit') if cmd.get(k)}
        return {'n': self.client[db][cmd['count']].count_documents(cmd.get('query') or {}, **kwargs)}

    def cmd_distinct(self, db, cmd):
        refuse_options(cmd, 'collation')
        return {'values': self.client[db][cmd['distinct']].distinct(cmd['key'], cmd.get('query') or {})}

    # --- writes ---
    def write_ops(self, cmd, ops, apply_one, counts=('n',)):
        """Applies each op; a failing one becomes a writeError with its index and ends an ordered batch."""
        refuse_options(cmd, 'let')
        reply, errors, upserted = dict.fromkeys(counts, 0), [], []
        for index, op in enumerate(ops):
            try:
                result = apply_one(op)
            except Exception as error:  # noqa: BLE001
                errors.append(dict(error_fields(error), index=index))
                if cmd.get('ordered', True):
                    break
                continue
            for key in counts:
                reply[key] += result[key]
            if result.get('upserted') is not None:
                upserted.append({'index': index, '_id': result['upserted']})
        if errors:
            reply['writeErrors'] = errors
        if upserted:
            reply['upserted'] = upserted
        return reply

    def cmd_insert(self, db, cmd):
        coll = self.client[db][cmd['insert']]
        rules.check_received(cmd.get('documents', []))

        def insert(doc):  # mongod stores _id first; the driver appends the _id it generates
            if '_id' in doc:
                doc = OrderedDict([('_id', doc.pop('_id'))] + list(doc.items()))
            rules.check_insert(doc)
            coll.insert_one(doc)
            return {'n': 1}
        return self.write_ops(cmd, cmd.get('documents', []), insert)

    def cmd_update(self, db, cmd):
        coll = self.client[db][cmd['update']]
        rules.check_received(cmd.get('updates', []))

        def update(op):
            refuse_options(op, 'collation', 'arrayFilters')
            query, change, upsert = op.get('q') or {}, op['u'], bool(op.get('upsert'))
            if isinstance(change, list):
                raise NotImplementedError('stand-in does not support pipeline updates')
            if rules.is_operator_update(change):
                rules.check_operators(change)
                apply = coll.update_many if op.get('multi') else coll.update_one
                return rules.checked_write(coll, query, None, bool(op.get('multi')),
                                           lambda: apply(query, change, upsert=upsert).raw_result, rules.upserted_of)
            if op.get('multi'):
                raise failure(9, 'multi update is not supported for replacement-style update')
            rules.check_replacement(change)
            return rules.checked_write(coll, query, None, False,
                                       lambda: coll.replace_one(query, change, upsert=upsert).raw_result,
                                       rules.upserted_of, change)
        return self.write_ops(cmd, cmd.get('updates', []), update, counts=('n', 'nModified'))

    def cmd_delete(self, db, cmd):
        coll = self.client[db][cmd['delete']]

        def delete(op):
            refuse_options(op, 'collation')
            remove = coll.delete_one if op.get('limit') else coll.delete_many
            return {'n': remove(op.get('q') or {}).deleted_count}
        return self.write_ops(cmd, cmd.get('deletes', []), delete)

    def cmd_findandmodify(self, db, cmd):
        refuse_options(cmd, 'collation', 'let', 'arrayFilters')
        rules.check_received([cmd])
        coll = self.client[db][cmd['findAndModify']]
        query, projection = cmd.get('query') or {}, cmd.get('fields') or None
        sort = list(cmd['sort'].items()) if cmd.get('sort') else None
        if cmd.get('remove'):
            value = coll.find_one_and_delete(query, projection, sort=sort)
            return {'value': value, 'lastErrorObject': {'n': int(value is not None)}}
        change, upsert = cmd['update'], bool(cmd.get('upsert'))
        if isinstance(change, list):
            raise NotImplementedError('stand-in does not support pipeline updates')
        if rules.is_operator_update(change):
            rules.check_operators(change)
            modify = coll.find_one_and_update
        else:
            rules.check_replacement(change)
            modify = coll.find_one_and_replace
        existed = coll.find_one(query, sort=sort) is not None
        # An upsert asks for the document AFTER so the size check finds it; the reply's value stays None.
        returned = ReturnDocument.AFTER if cmd.get('new') or not existed else ReturnDocument.BEFORE
        value = rules.checked_write(
            coll, query, sort, False,
            lambda: modify(query, change, projection, sort=sort, upsert=upsert, return_document=returned),
            lambda doc: doc.get('_id') if doc else None, None if modify == coll.find_one_and_update else change)
        outcome = {'n': int(existed or upsert), 'updatedExisting': existed}
        if upsert and not existed and value is not None and '_id' in value:
            outcome['upserted'] = value['_id']
        return {'value': value if existed or cmd.get('new') else None, 'lastErrorObject': outcome}

    # --- indexes ---
    def cmd_createindexes(self, db, cmd):
        coll = self.client[db][cmd['createIndexes']]
        existed = cmd['createIndexes'] in self.client[db].list_collection_names()
        before = len(coll.index_information())
        for spec in cmd.get('indexes', []):
            options = {k: spec[k] for k in ('unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression')
                       if k in spec}
            coll.create_index(list(spec['key'].items()), name=spec['name'], **options)
        return {'createdCollectionAutomatically': not existed, 'numIndexesBefore': before or 1,
                'numIndexesAfter': len(coll.index_information())}

    def existing_collection(self, db, name):
        if name not in self.client[db].list_collection_names():
            raise failure(26, 'ns does not exist: %s.%s' % (db, name))
        return self.client[db][name]

    def cmd_listindexes(self, db, cmd):
        coll = self.existing_collection(db, cmd['listIndexes'])
        indexes = [dict(info, name=name, key=OrderedDict(info['key']))
                   for name, info in coll.index_information().items()]
        return self.cursor_reply('%s.%s' % (db, cmd['listIndexes']), SnapshotCursor(indexes),
                                 cmd.get('cursor', {}).get('batchSize'))

    def cmd_dropindexes(self, db, cmd):
        coll = self.existing_collection(db, cmd['dropIndexes'])
        indexes = coll.index_information()
        if cmd['index'] == '*':
            coll.drop_indexes()
            return {'nIndexesWas': len(indexes)}
        for name in cmd['index'] if isinstance(cmd['index'], list) else [cmd['index']]:
            if not isinstance(name, str):
                raise NotImplementedError('stand-in drops indexes by name only')
            if name == '_id_':
                raise failure(72, 'cannot drop _id index')
            if name not in indexes:
                raise failure(27, 'index not found with name [%s]' % name)
            coll.drop_index(name)
        return {'nIndexesWas': len(indexes)}

    # --- collections and databases ---
    @staticmethod
    def described(cmd, infos, name_only_fields):
        infos = [i for i in infos if filtering.filter_applies(cmd.get('filter') or {}, i)]
        return [{k: i[k] for k in name_only_fields} for i in infos] if cmd.get('nameOnly') else infos

    def cmd_listcollections(self, db, cmd):
        infos = [{'name': name, 'type': 'collection', 'options': {}, 'info': {'readOnly': False},
                  'idIndex': {'v': 2, 'key': {'_id': 1}, 'name': '_id_'}}
                 for name in sorted(self.client[db].list_collection_names())]
        return self.cursor_reply('%s.$cmd.listCollections' % db,
                                 SnapshotCursor(self.described(cmd, infos, ('name', 'type'))),
                                 cmd.get('cursor', {}).get('batchSize'))

    def cmd_listdatabases(self, db, cmd):
        infos = [{'name': name, 'sizeOnDisk': 0, 'empty': False} for name in sorted(self.client.list_database_names())]
        return {'databases': self.described(cmd, infos, ('name',)), 'totalSize': 0}

    def cmd_create(self, db, cmd):
        refuse_options(cmd, 'capped', 'validator', 'viewOn', 'timeseries', 'clusteredIndex', 'collation')
        if cmd['create'] in self.client[db].list_collection_names():
            raise failure(48, 'Collection %s.%s already exists.' % (db, cmd['create']))
        self.client[db].create_collection(cmd['create'])
        return {}

    def cmd_drop(self, db, cmd):
        coll = self.existing_collection(db, cmd['drop'])  # 6.0 answers NamespaceNotFound; the driver ignores it
        indexes = len(coll.index_information())
        coll.drop()
        return {'ns': '%s.%s' % (db, cmd['drop']), 'nIndexesWas': indexes}

    def cmd_dropdatabase(self, db, cmd):
        self.client.drop_database(db)
        return {'dropped': db}


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    command_log = CommandLog() if '--record-commands' in sys.argv else None
    stand_in = StandIn(command_log)
    server = mockupdb.MockupDB(port=port or None, request_timeout=int(1e6))
    server._address = ('127.0.0.1', server._address[1])  # MockupDB binds 'localhost'; be explicit
    server.autoresponds(stand_in.answer)
    stand_in.port = server.run()

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    if '--exit-on-stdin-eof' in sys.argv:
        threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True).start()
    print('READY %d' % stand_in.port + (' ' + command_log.path if command_log else ''), flush=True)
    while not stopping.wait(1):
        pass
    server.stop()
    if command_log is not None:
        command_log.close()


if __name__ == '__main__':
    main()

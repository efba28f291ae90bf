"""The record behind the stand-in's --record-commands (mongo-stand-in.py): one JSON line per command on a
collection, read by TestMongo.commands() (test/support/mongo.ts), e.g. to check that every filter the
warehouse sends carries `geo`, as a sharded cluster needs to route it to one shard.
"""
import json
import os
import tempfile

from bson import json_util


def relaxed_extended_json(value):
    """The BSON types JSON lacks, as relaxed Extended JSON; json.dumps does the rest in C, 20 times faster
    than json_util.dumps on a bulk write's thousand filters."""
    return json_util.default(value, json_options=json_util.RELAXED_JSON_OPTIONS)


def recorded_command(db, name, cmd):
    """What TestMongo.commands() reports of one command, or None for one on no collection (hello, ping...).
    A command without a filter where one could be (find with none, aggregate not opening with $match)
    records `{}`, the filter that reaches every shard."""
    collection = cmd.get('collection') if name == 'getMore' else cmd.get(name)
    if not isinstance(collection, str):
        return None
    filters, upserts = [], []
    lowered = name.lower()
    if lowered == 'find':
        filters = [cmd.get('filter') or {}]
    elif lowered in ('count', 'distinct'):
        filters = [cmd.get('query') or {}]
    elif lowered == 'aggregate':
        first = (cmd.get('pipeline') or [{}])[0]
        filters = [first.get('$match', {})]
    elif lowered == 'update':
        filters = [op.get('q') or {} for op in cmd.get('updates', [])]
        upserts = [bool(op.get('upsert')) for op in cmd.get('updates', [])]
    elif lowered == 'delete':
        filters = [op.get('q') or {} for op in cmd.get('deletes', [])]
    elif lowered == 'findandmodify':
        filters, upserts = [cmd.get('query') or {}], [bool(cmd.get('upsert'))]
    return {'name': name, 'db': db, 'collection': collection, 'filters': filters, 'upserts': upserts}


class CommandLog:
    """The JSON-lines file behind --record-commands. Each line is written and flushed before the command's
    reply, so a client that has its reply finds its command in the file."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix='ganymede-mongo-commands-', suffix='.jsonl')
        self.file = os.fdopen(fd, 'w', encoding='utf-8')

    def record(self, db, name, cmd):
        entry = recorded_command(db, name, cmd)
        if entry is not None:
            try:
                line = json.dumps(entry, default=relaxed_extended_json, allow_nan=False)
            except ValueError:  # NaN or an infinity, which only Extended JSON can write
                line = json_util.dumps(entry, json_options=json_util.RELAXED_JSON_OPTIONS)
            self.file.write(line + '\n')
            self.file.flush()

    def close(self):
        self.file.close()
        os.unlink(self.path)

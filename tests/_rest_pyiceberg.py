"""pyiceberg through lakehouse's Iceberg REST catalog (RestCatalog, type=rest).

Used by the REST catalog and Trino tests. Argument: one JSON object
{"uri", "action", "token"?, "credential"?, "s3"?, ...}; output: one JSON
object. Without "s3", the S3 endpoint and (when the server hands them out)
the credentials come from the catalog's table config, as for any client.

Actions:
  read     {table, snapshot_id?}  -> {rows, snapshot_id, snapshots}
  create   {table, rows}          -> creates the namespace and table, appends rows
  append   {table, rows}          -> {snapshot_id}
  race     {table, rows_a, rows_b} -> loads the table twice, appends through both
                                      (the second commit conflicts and is retried)
  list     {namespace}            -> {namespaces, tables}
"""
import json
import os
import sys

import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _read_pyiceberg import canonical  # noqa: E402

SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("amount", pa.decimal128(12, 2)),
])


def catalog(args):
    props = {"uri": args["uri"]}
    if args.get("token"):
        props["token"] = args["token"]
    if args.get("credential"):
        props["credential"] = args["credential"]
        props["oauth2-server-uri"] = args["uri"].rstrip("/") + "/v1/oauth/tokens"
    s3 = args.get("s3")
    if s3:
        props.update({
            "s3.access-key-id": s3["access_key"],
            "s3.secret-access-key": s3["secret_key"],
        })
    return RestCatalog("lakehouse", **props)


def arrow_rows(rows):
    import decimal
    return pa.Table.from_pylist(
        [{**r, "amount": decimal.Decimal(r["amount"])} for r in rows], schema=SCHEMA)


def snapshot_of(table):
    current = table.current_snapshot()
    return str(current.snapshot_id) if current else None


def main():
    args = json.loads(sys.argv[1])
    cat = catalog(args)
    action = args["action"]
    if action == "read":
        table = cat.load_table(args["table"])
        snapshot_id = args.get("snapshot_id")
        scan = table.scan(snapshot_id=int(snapshot_id)) if snapshot_id else table.scan()
        rows = [canonical(r) for r in scan.to_arrow().to_pylist()]
        rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
        out = {
            "rows": rows,
            "snapshot_id": snapshot_of(table),
            "snapshots": [str(s.snapshot_id) for s in table.snapshots()],
        }
    elif action == "create":
        namespace = args["table"].rsplit(".", 1)[0]
        cat.create_namespace_if_not_exists(namespace)
        table = cat.create_table(args["table"], schema=SCHEMA)
        table.append(arrow_rows(args["rows"]))
        out = {"snapshot_id": snapshot_of(cat.load_table(args["table"])), "location": table.location()}
    elif action == "append":
        table = cat.load_table(args["table"])
        table.append(arrow_rows(args["rows"]))
        out = {"snapshot_id": snapshot_of(cat.load_table(args["table"]))}
    elif action == "race":
        first = cat.load_table(args["table"])
        second = cat.load_table(args["table"])
        first.append(arrow_rows(args["rows_a"]))
        # `second` still holds the metadata from before: its commit asserts
        # a main branch that has moved, and pyiceberg retries after the 409.
        second.append(arrow_rows(args["rows_b"]))
        out = {"snapshot_id": snapshot_of(cat.load_table(args["table"]))}
    elif action == "list":
        out = {
            "namespaces": [list(n) for n in cat.list_namespaces()],
            "tables": [list(t) for t in cat.list_tables(args["namespace"])],
        }
    else:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()

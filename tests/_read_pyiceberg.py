"""Reads an Iceberg table with pyiceberg and prints its rows as canonical JSON.

Used by the cross-engine tests: pyiceberg is an independent reader, so rows it
returns must equal what lakehouse's own scan returns.

Argument: one JSON object {catalog_uri, warehouse, table, snapshot_id?, s3?}.
Output: {"rows": [...], "snapshot_id": ..., "snapshots": [...], "properties":
{...}, "sort_order": {...}} with rows sorted, decimals as strings, timestamps
as epoch microseconds.
"""
import datetime
import decimal
import json
import sys

from pyiceberg.catalog.sql import SqlCatalog

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def canonical(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, datetime.date):
        return (value - EPOCH.date()).days
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def main():
    args = json.loads(sys.argv[1])
    props = {"uri": args["catalog_uri"], "warehouse": args["warehouse"]}
    s3 = args.get("s3")
    if s3:
        props.update({
            "s3.endpoint": s3["endpoint"],
            "s3.access-key-id": s3["access_key"],
            "s3.secret-access-key": s3["secret_key"],
            "s3.region": s3.get("region", "us-east-1"),
            "s3.force-virtual-addressing": "false",
        })
    catalog = SqlCatalog(args.get("catalog_name", "lakehouse"), **props)
    table = catalog.load_table(args["table"])
    snapshot_id = args.get("snapshot_id")
    scan = table.scan(snapshot_id=int(snapshot_id)) if snapshot_id else table.scan()
    rows = [canonical(r) for r in scan.to_arrow().to_pylist()]
    rows = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    current = table.current_snapshot()
    order = table.sort_order()
    print(json.dumps({
        "rows": rows,
        "snapshot_id": str(current.snapshot_id) if current else None,
        "snapshots": [str(s.snapshot_id) for s in table.snapshots()],
        "properties": dict(table.properties),
        "sort_order": {
            "order_id": order.order_id,
            "fields": [{
                "source_id": f.source_id,
                "transform": str(f.transform),
                "direction": f.direction.value,
                "null_order": f.null_order.value,
            } for f in order.fields],
        },
    }, sort_keys=True))


if __name__ == "__main__":
    main()

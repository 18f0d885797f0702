import assert from "node:assert/strict";
import { join } from "node:path";
import {
  directoryProblem,
  existingDirectoryProblem,
  look,
  outputFileProblem,
  probeWritable,
  readableFilesProblem,
  sqliteFileProblem,
} from "./paths.ts";

/**
 * A directory even root cannot create files in (sysfs refuses, whatever the
 * capabilities): the unit tests' stand-in for a non-writable directory. The
 * CLI tests check a chmod 555 directory with CAP_DAC_OVERRIDE dropped.
 */
const UNWRITABLE = "/sys/kernel";
const linux = Deno.build.os === "linux";

/** Every path under `dir`, to show that a check created or removed nothing. */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    out.push(entry.name);
    if (entry.isDirectory) {
      out.push(...tree(join(dir, entry.name)).map((n) => `${entry.name}/${n}`));
    }
  }
  return out.sort();
}

async function withTempDir(body: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lakehouse-paths-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("probeWritable creates and removes one probe file, leaving nothing behind", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "keep"), "x");
    const before = tree(dir);
    assert.equal(probeWritable(dir), undefined);
    assert.deepEqual(tree(dir), before);
    assert.equal(probeWritable(join(dir, "missing")), "no such file or directory");
  });
});

Deno.test({
  name: "probeWritable reports a directory the kernel will not let us write to",
  ignore: !linux,
  fn: () => {
    assert.match(probeWritable(UNWRITABLE) ?? "", /permission denied|read-only file system/);
  },
});

Deno.test("look: a path created between its stat and lstat is found, not called a dangling link", async () => {
  await withTempDir((dir) => {
    /** stat as if `create` ran in another process right after stat's first answer. */
    const racing = (create: () => void) => {
      let first = true;
      return {
        stat: (path: string) => {
          if (!first) return Deno.statSync(path);
          first = false;
          try {
            return Deno.statSync(path);
          } finally {
            create();
          }
        },
        lstat: Deno.lstatSync,
      };
    };
    const file = join(dir, "catalog.db");
    const seen = look(file, racing(() => Deno.writeTextFileSync(file, "")));
    assert.equal(seen.kind, "found", JSON.stringify(seen));
    assert.ok(seen.kind === "found" && seen.info.isFile);

    const link = join(dir, "link");
    const target = join(dir, "target");
    Deno.symlinkSync(target, link);
    const linked = look(link, racing(() => Deno.mkdirSync(target)));
    assert.ok(linked.kind === "found" && linked.info.isDirectory, JSON.stringify(linked));

    const dangling = join(dir, "dangling");
    Deno.symlinkSync(join(dir, "nowhere"), dangling);
    assert.deepEqual(look(dangling), {
      kind: "error",
      reason: "it is a symbolic link to nothing",
    });
    assert.deepEqual(look(join(dir, "absent")), { kind: "missing" });
  });
});

Deno.test("directoryProblem: an existing writable directory, or one that can be created", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "file"), "x");
    Deno.symlinkSync(join(dir, "nowhere"), join(dir, "dangling"));
    const before = tree(dir);
    assert.equal(directoryProblem(dir), undefined);
    assert.equal(directoryProblem(join(dir, "a/b/c")), undefined);
    assert.equal(directoryProblem(join(dir, "file")), "is a regular file, not a directory");
    assert.equal(
      directoryProblem(join(dir, "file/sub")),
      `cannot be created: ${join(dir, "file")} is a regular file, not a directory`,
    );
    assert.equal(
      directoryProblem(join(dir, "dangling")),
      "cannot be examined (it is a symbolic link to nothing)",
    );
    assert.deepEqual(tree(dir), before, "the checks created nothing");
  });
  if (linux) {
    assert.match(
      directoryProblem(`${UNWRITABLE}/lakehouse-x/wh`) ?? "",
      /^cannot be created: \/sys\/kernel is not writable \((permission denied|read-only file system)\)$/,
    );
    assert.match(
      directoryProblem(UNWRITABLE) ?? "",
      /^is a directory this process cannot write to \(/,
    );
  }
});

Deno.test("existingDirectoryProblem wants the directory to exist already", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "file"), "x");
    assert.equal(existingDirectoryProblem(dir), undefined);
    assert.equal(existingDirectoryProblem(join(dir, "missing")), "does not exist");
    assert.equal(existingDirectoryProblem(join(dir, "file")), "is a regular file, not a directory");
  });
  if (linux) assert.match(existingDirectoryProblem(UNWRITABLE) ?? "", /^is not writable \(/);
});

Deno.test("sqliteFileProblem: a new path, an empty file or an SQLite database", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "empty.db"), "");
    Deno.writeTextFileSync(join(dir, "real.db"), "SQLite format 3\0 and pages");
    Deno.writeTextFileSync(join(dir, "notes.txt"), "password=zzPLANTEDzz");
    Deno.mkdirSync(join(dir, "dir.db"));
    const before = tree(dir);
    const contents = Deno.readTextFileSync(join(dir, "real.db"));
    assert.equal(sqliteFileProblem(join(dir, "new.db")), undefined);
    assert.equal(sqliteFileProblem(join(dir, "sub/dir/new.db")), undefined);
    assert.equal(sqliteFileProblem(join(dir, "empty.db")), undefined);
    assert.equal(sqliteFileProblem(join(dir, "real.db")), undefined);
    assert.equal(sqliteFileProblem(join(dir, "notes.txt")), "is not an SQLite database");
    assert.equal(sqliteFileProblem(join(dir, "dir.db")), "is a directory, not a file");
    assert.equal(
      sqliteFileProblem(join(dir, "notes.txt/x.db")),
      `cannot be created: ${join(dir, "notes.txt")} is a regular file, not a directory`,
    );
    assert.deepEqual(tree(dir), before, "the checks created nothing");
    assert.equal(Deno.readTextFileSync(join(dir, "real.db")), contents, "nor changed a file");
  });
  if (linux) {
    assert.match(sqliteFileProblem(`${UNWRITABLE}/lake.db`) ?? "", /^cannot be created: /);
  }
});

Deno.test("readableFilesProblem: a directory holding each named, readable file", async () => {
  await withTempDir((dir) => {
    const names = ["events.sql", "rejects.sql"];
    assert.equal(readableFilesProblem(join(dir, "missing"), names), "does not exist");
    Deno.writeTextFileSync(join(dir, "file"), "x");
    assert.equal(
      readableFilesProblem(join(dir, "file"), names),
      "is a regular file, not a directory",
    );
    assert.equal(readableFilesProblem(dir, names), "has no events.sql");
    Deno.mkdirSync(join(dir, "events.sql"));
    assert.equal(
      readableFilesProblem(dir, names),
      "holds events.sql, but it is a directory, not a regular file",
    );
    Deno.removeSync(join(dir, "events.sql"));
    Deno.writeTextFileSync(join(dir, "events.sql"), "SELECT 1");
    assert.equal(readableFilesProblem(dir, names), "has no rejects.sql");
    Deno.writeTextFileSync(join(dir, "rejects.sql"), "SELECT 1");
    assert.equal(readableFilesProblem(dir, names), undefined);
  });
});

Deno.test("outputFileProblem: stdout, an existing file, or a new file in an existing directory", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "old.ndjson"), "keep me");
    const before = tree(dir);
    assert.equal(outputFileProblem("-"), undefined);
    assert.equal(outputFileProblem(join(dir, "new.ndjson")), undefined);
    assert.equal(outputFileProblem(join(dir, "old.ndjson")), undefined);
    assert.equal(outputFileProblem(dir), "is a directory, not a file");
    assert.equal(
      outputFileProblem(join(dir, "missing/out.ndjson")),
      `is in a directory that does not exist (${join(dir, "missing")})`,
    );
    assert.deepEqual(tree(dir), before, "the checks created nothing");
    assert.equal(Deno.readTextFileSync(join(dir, "old.ndjson")), "keep me", "nor truncated a file");
  });
  if (linux) {
    assert.match(outputFileProblem(`${UNWRITABLE}/out.ndjson`) ?? "", /^cannot be created: /);
  }
});

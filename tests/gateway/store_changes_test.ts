/**
 * Change notices at the edge: each kind the PostgreSQL triggers send is
 * parsed into its variant; a payload that is not JSON, of an unknown kind,
 * without its key, with a row that is not an object or with too many
 * check-ins is refused naming what was wrong. A store for one gateway
 * (SQLite) offers no notices; a shared store does.
 *
 * @module
 */
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import {
  changesOf,
  CHECKINS_PER_NOTICE,
  parseStoreChange,
  type SharedStore,
  StoreChangeError,
  type StoreChanges,
} from "../../mod/gateway/store_changes.ts";
import { assertEquals, assertThrows } from "../support/assert.ts";
import { host, session } from "../support/store_contract.ts";

Deno.test("every kind of notice is parsed", () => {
  const put = parseStoreChange(JSON.stringify({
    kind: "host",
    op: "put",
    key: host("a").serverUrl,
    origin: "g1",
    row: host("a"),
  }));
  assertEquals(put, {
    kind: "host",
    op: "put",
    key: host("a").serverUrl,
    origin: "g1",
    row: host("a"),
  });
  // Too large for a notice: no row (the receiver reads it).
  const large = parseStoreChange(
    '{"kind":"session","op":"put","key":"s1","uuid":"u1","origin":""}',
  );
  assertEquals(large.kind === "session" && large.row, undefined);
  const gone = parseStoreChange(
    '{"kind":"session","op":"delete","key":"s1","origin":"g2"}',
  );
  assertEquals(gone.kind === "session" && gone.op, "delete");
  const withRow = parseStoreChange(JSON.stringify({
    kind: "session",
    op: "put",
    key: "s1",
    uuid: "uuid-s1",
    origin: "g2",
    row: session("s1"),
  }));
  assertEquals(withRow.kind === "session" && withRow.row, session("s1"));
  assertEquals(
    parseStoreChange(
      '{"kind":"checkins","origin":"g1","checkins":[["s1",1700000000000]]}',
    ),
    { kind: "checkins", origin: "g1", checkins: [["s1", 1700000000000]] },
  );
  assertEquals(
    parseStoreChange(JSON.stringify({
      kind: "revocation",
      op: "put",
      key: "user:bob",
      origin: "g1",
      row: { kind: "user", user: "bob", before: 5, expiresAt: 9 },
    })),
    {
      kind: "revocation",
      op: "put",
      key: "user:bob",
      origin: "g1",
      row: { kind: "user", user: "bob", before: 5, expiresAt: 9 },
    },
  );
});

Deno.test("a bad notice is refused naming what was wrong", () => {
  const refused = (payload: string, message: RegExp) =>
    assertThrows(() => parseStoreChange(payload), StoreChangeError, message);
  refused("{not json", /not JSON/);
  refused('{"kind":"printer","origin":""}', /invalid at kind/);
  refused('{"kind":"host","op":"put","origin":""}', /invalid at key/);
  refused(
    '{"kind":"host","op":"put","key":"h","origin":"","row":[1]}',
    /invalid at row: expected the stored record/,
  );
  refused(
    '{"kind":"session","op":"replace","key":"s","origin":""}',
    /invalid at op/,
  );
  refused(
    JSON.stringify({
      kind: "checkins",
      origin: "",
      checkins: Array.from(
        { length: CHECKINS_PER_NOTICE + 1 },
        (_, i) => [`s${i}`, i],
      ),
    }),
    /invalid at checkins/,
  );
  refused(
    '{"kind":"revocation","op":"put","key":"k","origin":"","row":{"kind":"signin"}}',
    /invalid at row\.id/,
  );
});

Deno.test("only a shared store offers change notices", () => {
  const sqlite = asyncStore(openSqliteStore(":memory:"));
  try {
    assertEquals(changesOf(sqlite), undefined);
    const changes: StoreChanges = {
      origin: "g1",
      listen: () => Promise.resolve({ stop: () => Promise.resolve() }),
    };
    const shared: SharedStore = { ...sqlite, changes };
    assertEquals(changesOf(shared), changes);
  } finally {
    void sqlite.close();
  }
});

/** A D1 binding that behaves like `db` except for the methods given, for tests of how storage failures are handled. */
export function failingDatabase(
  db: D1Database,
  overrides: Partial<Record<"prepare" | "batch", (...args: unknown[]) => unknown>>,
): D1Database {
  return new Proxy(db, {
    get(target, property) {
      const override = overrides[property as keyof typeof overrides];
      if (override) return override;
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A D1 binding that is down: every statement fails. */
export function databaseDown(db: D1Database): D1Database {
  const outage = () => {
    throw new Error("D1_ERROR: simulated outage");
  };
  return failingDatabase(db, { prepare: outage, batch: outage });
}

/** A D1 binding that refuses to delete one connection row, and runs everything else. */
export function databaseRefusingToDelete(db: D1Database, connectionId: string): D1Database {
  return failingDatabase(db, {
    prepare: (sql) => {
      const statement = db.prepare(String(sql));
      if (!String(sql).startsWith('delete from "connections"')) return statement;
      return {
        bind: (...params: unknown[]) => {
          if (params.includes(connectionId)) throw new Error("D1_ERROR: simulated outage");
          return statement.bind(...params);
        },
      };
    },
  });
}

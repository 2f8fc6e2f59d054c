// A fake transaction runner for the group-commit queue's tests (store/group-commit.ts): it logs
// begin, commit and rollback, and refuses what a database would (a begin inside a transaction, a
// commit or an isolated operation outside one).
export function fakeDb() {
  const log: string[] = [];
  let inTransaction = false;
  return {
    log,
    begin() {
      if (inTransaction) throw new Error('begin inside a transaction');
      inTransaction = true;
      log.push('begin');
    },
    commit() {
      if (!inTransaction) throw new Error('commit outside a transaction');
      inTransaction = false;
      log.push('commit');
    },
    rollback() {
      if (inTransaction) log.push('rollback');
      inTransaction = false;
    },
    isolate<T>(op: () => T): T {
      if (!inTransaction) throw new Error('isolate outside a transaction');
      return op();
    },
  };
}

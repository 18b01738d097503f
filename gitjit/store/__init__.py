"""Issues, gates and events on refs/jit/*, sync with remotes, and the index.

``entities`` (the documents on refs, compare-and-swap writes), ``locks`` (owner records of ref
locks), ``sync`` (fetch, reconcile, push, hub claims), ``checks`` (what a document from a remote
must be), ``index`` (the SQLite file), ``indexer`` and ``indexboard`` (the read model kept in step
with the refs). Import the module you need: ``gitjit.store.index`` is read without pygit2."""

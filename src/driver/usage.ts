// A wrong command line or a wrong file named on it (not a spec error): the CLI prints the message and exits 2.
export class UsageError extends Error {}

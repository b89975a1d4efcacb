#!/usr/bin/env node
// Entry point: loads the TypeScript CLI through tsx so the package runs from source.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');

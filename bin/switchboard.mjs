#!/usr/bin/env node
// `npx switchboard traffic …`: loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../cli/switchboard.ts');

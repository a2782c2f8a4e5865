/** Parsing of option values, with the one-line errors every command uses. */
import { CliError } from './errors.js';

export function integer(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || value.trim() === '') throw new CliError(`${flag} must be an integer, got '${value}'`);
  return n;
}

export function nonNegativeInt(value: string, flag: string): number {
  const n = integer(value, flag);
  if (n < 0) throw new CliError(`${flag} must be ≥ 0, got '${value}'`);
  return n;
}

export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || value.trim() === '') throw new CliError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

/** An index in [0, limit). */
export function indexBelow(value: string, flag: string, limit: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n >= limit || value.trim() === '') throw new CliError(`${flag} must be an integer in [0, ${limit}), got '${value}'`);
  return n;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new CliError(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** "1,5,9" → [1, 5, 9] (non-negative integers). */
export function integerList(value: string, flag: string): number[] {
  const items = value.split(',').map((v) => v.trim());
  if (items.some((v) => !/^\d+$/.test(v))) throw new CliError(`${flag} expects comma-separated non-negative integers, got '${value}'`);
  return items.map(Number);
}

/** An integer ≥ min. */
export function integerAtLeast(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || value.trim() === '') throw new CliError(`${flag} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new CliError(`${flag} must be a positive number, got '${value}'`);
  return n;
}

export function nonNegativeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0) || value.trim() === '') throw new CliError(`${flag} must be a number ≥ 0, got '${value}'`);
  return n;
}

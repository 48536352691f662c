import { ValidationError } from './errors.js';

/** NUL and the other C0 controls except tab, line feed and carriage return. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** A UTF-16 surrogate without its pair: not a character, and not storable as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Refuses text that is not plain, storable Unicode (BAD_USER_INPUT naming `field`). */
export function assertPlainText(field: string, value: string): void {
  if (CONTROL.test(value)) throw new ValidationError(field, 'expected text without control characters (such as NUL)');
  if (LONE_SURROGATE.test(value)) throw new ValidationError(field, 'expected valid Unicode text (it holds an unpaired surrogate)');
}

/**
 * A status line: redrawn in place on a terminal, printed as plain lines
 * otherwise (logs and CI keep a readable history).
 */
export class ProgressLine {
  readonly #terminal: boolean;
  readonly #write: (text: string) => void;
  #drawn = false;

  constructor(terminal: boolean, write: (text: string) => void) {
    this.#terminal = terminal;
    this.#write = write;
  }

  update(text: string): void {
    if (this.#terminal) {
      this.#write(`\r\x1b[2K${text}`);
      this.#drawn = true;
    } else {
      this.#write(`${text}\n`);
    }
  }

  done(): void {
    if (this.#drawn) this.#write("\n");
    this.#drawn = false;
  }
}

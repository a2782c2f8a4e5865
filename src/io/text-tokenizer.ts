// Text ↔ token ids through a Hugging Face tokenizer.json, via @huggingface/tokenizers.
// Pure module: construct from the parsed JSON (no network, no files); tokenizer.ts loads files.
import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
}

/** Python `tokenizers` behaviour: no special tokens added, no clean-up of spaces on decode. */
const DECODE_OPTIONS = { skip_special_tokens: false, clean_up_tokenization_spaces: false };

export class TextTokenizer {
  /** One more than the largest token id (added tokens included). */
  readonly vocabSize: number;
  private readonly tokenizer: Tokenizer;

  /** `tokenizerJson` is the parsed content of a tokenizer.json file. */
  constructor(tokenizerJson: object) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, {});
    } catch (error) {
      throw new TokenizerError(`unsupported tokenizer.json: ${(error as Error).message}`);
    }
    let largest = -1; // a loop, not Math.max(...ids): vocabularies reach 256k entries
    for (const id of this.tokenizer.get_vocab(true).values()) largest = Math.max(largest, id);
    this.vocabSize = largest + 1;
  }

  /** Token ids of `text`, without special tokens (as Python's `encode(..., add_special_tokens=False)`). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** The text of `ids`; every id must be in [0, vocabSize). */
  decode(ids: ArrayLike<number>): string {
    const list = Array.from(ids);
    const bad = list.find((id) => !Number.isInteger(id) || id < 0 || id >= this.vocabSize);
    if (bad !== undefined) throw new TokenizerError(`token id ${bad} is outside the vocabulary [0, ${this.vocabSize})`);
    // The library rejects an empty list; nothing decodes to the empty string.
    return list.length === 0 ? '' : this.tokenizer.decode(list, DECODE_OPTIONS);
  }

  /**
   * Display text of one token (its decoding on its own), e.g. " Emma" — for token labels.
   * A token holding part of a multi-byte character shows as U+FFFD.
   */
  tokenToString(id: number): string {
    return this.decode([id]);
  }
}

//===- hip/model/tokenizer.h - Tokenizers of GGUF vocabularies --*- C++ -*-===//
//
// The two vocabularies Llama-architecture GGUF files carry
// (`tokenizer.ggml.model`):
//
//   "llama"  SentencePiece-style BPE with scores: the text gets a leading
//            space (unless tokenizer.ggml.add_space_prefix is false), spaces
//            become U+2581 '▁', then the adjacent pair of symbols whose
//            concatenation is a token with the highest score is merged,
//            repeatedly (ties: leftmost); symbols left that are not tokens
//            become byte tokens <0xXX> (byte fallback).
//   "gpt2"   byte-level BPE with merges: the text is split by a hand-written
//            approximation of GPT-2's pre-tokenizer regex (contractions,
//            optional space + letters, optional space + digits (single
//            digits when tokenizer.ggml.pre is "smollm" or "llama3"-like
//            digit splitting is asked for), optional space + other symbols,
//            whitespace), each piece's bytes are mapped to printable code
//            points (GPT-2's bytes_to_unicode) and merged by rank
//            (tokenizer.ggml.merges, lower first).
//
// Special tokens in the input text are not parsed: encode() treats all text
// as plain text. BOS/EOS come from tokenizer.ggml.bos_token_id /
// eos_token_id; addBos() follows tokenizer.ggml.add_bos_token (default: true
// for "llama", false for "gpt2").
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace hip::model {

class GGUFFile;

class Tokenizer {
public:
  enum class Kind { SentencePiece, BytePairGPT2 };

  /// From a GGUF file's tokenizer.ggml.* metadata. Throws InvalidArgument
  /// (naming the file) when a key is missing or the model is not "llama" or
  /// "gpt2".
  static Tokenizer fromGGUF(const GGUFFile &f);

  /// Token ids of `text`, with BOS first when `bos` is true (and the
  /// vocabulary has one).
  std::vector<int32_t> encode(const std::string &text, bool bos) const;
  /// The text of `ids`; control tokens (BOS, EOS, ...) decode to nothing.
  /// With SentencePiece, the space added before the text is dropped when
  /// ids start with BOS or `stripLeadingSpace` is true.
  std::string decode(const std::vector<int32_t> &ids, bool stripLeadingSpace = false) const;
  /// The text of one token following `prev` (for streaming output).
  std::string decodeToken(int32_t id, int32_t prev) const;

  Kind kind() const { return kind_; }
  int64_t vocabSize() const { return int64_t(tokens_.size()); }
  int32_t bos() const { return bos_; } // -1 when the vocabulary has none
  int32_t eos() const { return eos_; }
  bool addBos() const { return addBos_; }
  const std::string &piece(int32_t id) const;
  /// The id of the token whose text is `piece` (e.g. "<|im_start|>"), or -1.
  int32_t find(const std::string &piece) const {
    auto it = index_.find(piece);
    return it == index_.end() ? -1 : it->second;
  }

private:
  std::vector<int32_t> encodeSentencePiece(const std::string &text) const;
  std::vector<int32_t> encodeGPT2(const std::string &text) const;
  std::string pieceText(int32_t id) const; // one token's bytes

  Kind kind_ = Kind::SentencePiece;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<int32_t> types_; // 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
  std::unordered_map<std::string, int32_t> index_;
  std::map<std::pair<std::string, std::string>, int32_t> mergeRank_;
  int32_t byteToken_[256];
  int32_t bos_ = -1, eos_ = -1, unk_ = -1;
  bool addBos_ = true, addSpacePrefix_ = true, splitDigits_ = false;
};

} // namespace hip::model

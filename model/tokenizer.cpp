//===- model/tokenizer.cpp - SentencePiece BPE and GPT-2 byte-level BPE ----===//
//
// SentencePiece BPE follows llama.cpp's llm_tokenizer_spm: a linked list of
// UTF-8 characters and a priority queue of adjacent pairs that form a token,
// best score first (ties: leftmost), with stale pairs skipped; O(n log n),
// so a whole text file can be encoded in one call. GPT-2 BPE merges the
// lowest-ranked pair of each pre-tokenized word until none is left.
//
//===----------------------------------------------------------------------===//
#include "hip/model/tokenizer.h"

#include "hip/error.h"
#include "hip/model/gguf.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <queue>

namespace hip::model {

namespace {

const std::string kSpace = "\xe2\x96\x81"; // U+2581 '▁'

/// Bytes of the UTF-8 sequence starting with `c` (1 for a stray byte).
size_t utf8Len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 6) return 2;
  if ((c >> 4) == 14) return 3;
  if ((c >> 3) == 30) return 4;
  return 1;
}

/// The code point at s[i] and its length (a stray byte is its own value).
uint32_t codepoint(const std::string &s, size_t i, size_t &len) {
  unsigned char c = s[i];
  len = std::min(utf8Len(c), s.size() - i);
  if (len == 1) return c;
  uint32_t cp = c & (0xff >> (len + 1));
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  return cp;
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) s += char(cp);
  else if (cp < 0x800) s += char(0xc0 | (cp >> 6)), s += char(0x80 | (cp & 0x3f));
  else if (cp < 0x10000)
    s += char(0xe0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3f)), s += char(0x80 | (cp & 0x3f));
  else
    s += char(0xf0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3f)),
        s += char(0x80 | ((cp >> 6) & 0x3f)), s += char(0x80 | (cp & 0x3f));
  return s;
}

/// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others
/// to 256, 257, ... in byte order.
const std::vector<uint32_t> &byteToUnicode() {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      t[b] = printable ? b : 256 + n++;
    }
    return t;
  }();
  return table;
}

/// "<0xXX>" -> XX, else -1.
int byteTokenValue(const std::string &p) {
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) ? (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10) : -1; };
  int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

enum class CharClass { Letter, Digit, Space, Other };

/// Unicode classes approximated: ASCII exactly; non-ASCII code points are
/// letters except the Latin-1 symbols, general punctuation and CJK
/// punctuation blocks, and the Unicode spaces.
CharClass classify(uint32_t cp) {
  if (cp < 0x80) {
    if (std::isalpha(int(cp))) return CharClass::Letter;
    if (std::isdigit(int(cp))) return CharClass::Digit;
    if (std::isspace(int(cp))) return CharClass::Space;
    return CharClass::Other;
  }
  if (cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
      cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0x85)
    return CharClass::Space;
  if ((cp >= 0xa1 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 || (cp >= 0x2010 && cp <= 0x2027) ||
      (cp >= 0x2030 && cp <= 0x205e) || (cp >= 0x3001 && cp <= 0x303f) || (cp >= 0x2190 && cp <= 0x2bff))
    return CharClass::Other;
  return CharClass::Letter;
}

/// The GPT-2 pre-tokenizer regex
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// by hand; with `splitDigits` each digit is a piece of its own first (as
/// llama.cpp's "smollm" pre-tokenizer does with \p{N}).
std::vector<std::string> preTokenize(const std::string &text, bool splitDigits) {
  std::vector<uint32_t> cps;
  std::vector<size_t> at; // byte offset of each code point, plus the end
  for (size_t i = 0, len; i < text.size(); i += len) {
    at.push_back(i);
    cps.push_back(codepoint(text, i, len));
  }
  at.push_back(text.size());
  size_t n = cps.size();
  auto cls = [&](size_t i) { return classify(cps[i]); };
  // With split digits, a digit ends the fragment the regex sees.
  auto boundary = [&](size_t i) { return i >= n || (splitDigits && cls(i) == CharClass::Digit); };
  std::vector<std::string> out;
  size_t i = 0;
  auto emit = [&](size_t end) {
    out.push_back(text.substr(at[i], at[end] - at[i]));
    i = end;
  };
  while (i < n) {
    uint32_t c = cps[i];
    if (splitDigits && cls(i) == CharClass::Digit) { emit(i + 1); continue; }
    if (c == '\'' && i + 1 < n) {
      uint32_t a = cps[i + 1], b = i + 2 < n ? cps[i + 2] : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') { emit(i + 2); continue; }
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) { emit(i + 3); continue; }
    }
    size_t j = i;
    if (c == ' ' && !boundary(i + 1) && cls(i + 1) != CharClass::Space) j = i + 1;
    CharClass k = cls(j);
    if (k != CharClass::Space) {
      size_t e = j + 1;
      if (!(splitDigits && k == CharClass::Digit))
        while (!boundary(e) && cls(e) == k) ++e;
      emit(e);
      continue;
    }
    size_t e = j + 1;
    while (e < n && cls(e) == CharClass::Space) ++e;
    // \s+(?!\S): leave the last space to the next piece if one follows.
    if (!boundary(e) && e - j > 1) --e;
    emit(e);
  }
  return out;
}

} // namespace

Tokenizer Tokenizer::fromGGUF(const GGUFFile &f) {
  Tokenizer t;
  const std::string &model = f.get("tokenizer.ggml.model").asString(f.path + ": tokenizer.ggml.model");
  if (model == "llama") t.kind_ = Kind::SentencePiece;
  else if (model == "gpt2") t.kind_ = Kind::BytePairGPT2;
  else
    throw InvalidArgument(f.path + ": unsupported tokenizer '" + model +
                          "' (supported: llama (SentencePiece BPE), gpt2 (byte-level BPE))");
  t.tokens_ = f.get("tokenizer.ggml.tokens").asStrings(f.path + ": tokenizer.ggml.tokens");
  if (t.tokens_.empty()) throw InvalidArgument(f.path + ": tokenizer.ggml.tokens is empty");
  size_t n = t.tokens_.size();
  if (const GGUFValue *s = f.find("tokenizer.ggml.scores")) {
    auto sc = s->asFloats(f.path + ": tokenizer.ggml.scores");
    t.scores_.assign(sc.begin(), sc.end());
  }
  if (t.scores_.size() != n) {
    if (t.kind_ == Kind::SentencePiece)
      throw InvalidArgument(f.path + ": tokenizer.ggml.scores must have one score per token");
    t.scores_.assign(n, 0.f);
  }
  t.types_.assign(n, 1);
  if (const GGUFValue *ty = f.find("tokenizer.ggml.token_type")) {
    auto v = ty->asInts(f.path + ": tokenizer.ggml.token_type");
    if (v.size() == n)
      for (size_t i = 0; i < n; ++i) t.types_[i] = int32_t(v[i]);
  }
  for (size_t i = 0; i < n; ++i) t.index_.emplace(t.tokens_[i], int32_t(i));
  auto id = [&](const char *key, int32_t fallback) {
    const GGUFValue *v = f.find(key);
    int64_t x = v ? v->asInt(f.path + ": " + key) : fallback;
    return x >= 0 && x < int64_t(n) ? int32_t(x) : -1;
  };
  t.bos_ = id("tokenizer.ggml.bos_token_id", t.kind_ == Kind::SentencePiece ? 1 : -1);
  t.eos_ = id("tokenizer.ggml.eos_token_id", t.kind_ == Kind::SentencePiece ? 2 : -1);
  t.unk_ = id("tokenizer.ggml.unknown_token_id", t.kind_ == Kind::SentencePiece ? 0 : -1);
  for (int32_t x : {t.bos_, t.eos_})
    if (x >= 0 && t.types_[size_t(x)] == 1) t.types_[size_t(x)] = 3;
  t.addBos_ = t.kind_ == Kind::SentencePiece;
  if (const GGUFValue *v = f.find("tokenizer.ggml.add_bos_token"))
    t.addBos_ = v->asInt(f.path + ": tokenizer.ggml.add_bos_token") != 0;
  if (const GGUFValue *v = f.find("tokenizer.ggml.add_space_prefix"))
    t.addSpacePrefix_ = v->asInt(f.path + ": tokenizer.ggml.add_space_prefix") != 0;
  if (const GGUFValue *v = f.find("tokenizer.ggml.pre"))
    t.splitDigits_ = v->type == GGUFType::string && v->s == "smollm";

  std::fill(std::begin(t.byteToken_), std::end(t.byteToken_), -1);
  if (t.kind_ == Kind::SentencePiece) {
    for (size_t i = 0; i < n; ++i) {
      int b = byteTokenValue(t.tokens_[i]);
      if (b >= 0) t.byteToken_[b] = int32_t(i), t.types_[i] = 6;
    }
  } else {
    auto merges = f.get("tokenizer.ggml.merges").asStrings(f.path + ": tokenizer.ggml.merges");
    for (size_t r = 0; r < merges.size(); ++r) {
      size_t sp = merges[r].find(' ', 1);
      if (sp == std::string::npos)
        throw InvalidArgument(f.path + ": tokenizer.ggml.merges[" + std::to_string(r) + "] = '" +
                              merges[r] + "' is not 'A B'");
      t.mergeRank_.emplace(std::make_pair(merges[r].substr(0, sp), merges[r].substr(sp + 1)),
                           int32_t(r));
    }
    const auto &b2u = byteToUnicode();
    for (int b = 0; b < 256; ++b) {
      auto it = t.index_.find(utf8(b2u[size_t(b)]));
      if (it != t.index_.end()) t.byteToken_[b] = it->second;
    }
  }
  return t;
}

const std::string &Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= int32_t(tokens_.size()))
    throw InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary of " +
                          std::to_string(tokens_.size()));
  return tokens_[size_t(id)];
}

std::vector<int32_t> Tokenizer::encode(const std::string &text, bool bos) const {
  std::vector<int32_t> out;
  if (bos && bos_ >= 0) out.push_back(bos_);
  if (text.empty()) return out;
  std::vector<int32_t> ids = kind_ == Kind::SentencePiece ? encodeSentencePiece(text) : encodeGPT2(text);
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::vector<int32_t> Tokenizer::encodeSentencePiece(const std::string &raw) const {
  std::string text = addSpacePrefix_ ? " " + raw : raw;
  std::string s;
  s.reserve(text.size() * 2);
  for (char c : text) {
    if (c == ' ') s += kSpace;
    else s += c;
  }
  struct Sym {
    size_t start, len;
    int64_t prev, next;
  };
  std::vector<Sym> sym;
  for (size_t i = 0; i < s.size();) {
    size_t len = std::min(utf8Len(static_cast<unsigned char>(s[i])), s.size() - i);
    int64_t k = int64_t(sym.size());
    sym.push_back({i, len, k - 1, k + 1});
    i += len;
  }
  sym.back().next = -1;
  struct Bigram {
    float score;
    int64_t left, right;
    size_t len;
  };
  auto worse = [](const Bigram &a, const Bigram &b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
  auto tryAdd = [&](int64_t l, int64_t r) {
    if (l < 0 || r < 0) return;
    size_t len = sym[size_t(l)].len + sym[size_t(r)].len;
    auto it = index_.find(s.substr(sym[size_t(l)].start, len));
    if (it == index_.end()) return;
    queue.push({scores_[size_t(it->second)], l, r, len});
  };
  for (size_t i = 1; i < sym.size(); ++i) tryAdd(int64_t(i - 1), int64_t(i));
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Sym &l = sym[size_t(b.left)], &r = sym[size_t(b.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len || l.next != b.right) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[size_t(r.next)].prev = b.left;
    tryAdd(l.prev, b.left);
    tryAdd(b.left, l.next);
  }
  std::vector<int32_t> out;
  for (int64_t i = 0; i >= 0; i = sym[size_t(i)].next) {
    const Sym &x = sym[size_t(i)];
    auto it = index_.find(s.substr(x.start, x.len));
    if (it != index_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (size_t k = 0; k < x.len; ++k) { // byte fallback
      int32_t t = byteToken_[static_cast<unsigned char>(s[x.start + k])];
      if (t >= 0) out.push_back(t);
      else if (unk_ >= 0) out.push_back(unk_);
    }
  }
  return out;
}

std::vector<int32_t> Tokenizer::encodeGPT2(const std::string &text) const {
  const auto &b2u = byteToUnicode();
  std::unordered_map<std::string, std::vector<int32_t>> cache;
  std::vector<int32_t> out;
  for (const std::string &word : preTokenize(text, splitDigits_)) {
    auto hit = cache.find(word);
    if (hit != cache.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      continue;
    }
    std::vector<std::string> parts;
    for (unsigned char c : word) parts.push_back(utf8(b2u[c]));
    while (parts.size() > 1) {
      int32_t best = INT32_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = mergeRank_.find({parts[i], parts[i + 1]});
        if (it != mergeRank_.end() && it->second < best) best = it->second, at = i;
      }
      if (best == INT32_MAX) break;
      std::string a = parts[at], b = parts[at + 1];
      std::vector<std::string> next;
      for (size_t i = 0; i < parts.size(); ++i) {
        if (i + 1 < parts.size() && parts[i] == a && parts[i + 1] == b) next.push_back(a + b), ++i;
        else next.push_back(parts[i]);
      }
      parts.swap(next);
    }
    std::vector<int32_t> ids;
    for (const std::string &p : parts) {
      auto it = index_.find(p);
      if (it != index_.end()) {
        ids.push_back(it->second);
        continue;
      }
      // Not a token (a merge list without its vocabulary entry): byte tokens.
      for (size_t i = 0, len; i < p.size(); i += len) {
        uint32_t cp = codepoint(p, i, len);
        auto b = std::find(b2u.begin(), b2u.end(), cp);
        int32_t t = b == b2u.end() ? -1 : byteToken_[b - b2u.begin()];
        if (t >= 0) ids.push_back(t);
        else if (unk_ >= 0) ids.push_back(unk_);
      }
    }
    out.insert(out.end(), ids.begin(), ids.end());
    cache.emplace(word, std::move(ids));
  }
  return out;
}

std::string Tokenizer::pieceText(int32_t id) const {
  const std::string &p = piece(id);
  int32_t type = types_[size_t(id)];
  if (type == 3 || type == 5) return "";
  if (kind_ == Kind::SentencePiece) {
    if (type == 6) return std::string(1, char(byteTokenValue(p)));
    std::string s;
    for (size_t i = 0; i < p.size();) {
      if (p.compare(i, kSpace.size(), kSpace) == 0) s += ' ', i += kSpace.size();
      else s += p[i++];
    }
    return s;
  }
  static const std::vector<int> u2b = [] {
    std::vector<int> t(512, -1);
    const auto &b2u = byteToUnicode();
    for (int b = 0; b < 256; ++b) t[b2u[size_t(b)]] = b;
    return t;
  }();
  std::string s;
  for (size_t i = 0, len; i < p.size(); i += len) {
    uint32_t cp = codepoint(p, i, len);
    if (cp < u2b.size() && u2b[cp] >= 0) s += char(u2b[cp]);
    else s += p.substr(i, len); // not byte-mapped (a user-defined token)
  }
  return s;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids, bool stripLeadingSpace) const {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += decodeToken(ids[i], i ? ids[i - 1] : -1);
  if (stripLeadingSpace && kind_ == Kind::SentencePiece && addSpacePrefix_ && !s.empty() &&
      s[0] == ' ' && (ids.empty() || ids[0] != bos_))
    s.erase(0, 1);
  return s;
}

std::string Tokenizer::decodeToken(int32_t id, int32_t prev) const {
  std::string s = pieceText(id);
  // SentencePiece: the space added before the text is not part of it.
  if (kind_ == Kind::SentencePiece && addSpacePrefix_ && prev >= 0 && prev == bos_ && !s.empty() &&
      s[0] == ' ')
    s.erase(0, 1);
  return s;
}

} // namespace hip::model

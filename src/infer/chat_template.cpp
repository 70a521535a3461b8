// Chat templates without a Jinja engine: the family is recognised from markers in
// tokenizer.chat_template and rendered by hand (docs/formats/tokenizer.md has the exact
// forms). Rendering yields segments: template scaffolding, in which control-token text is
// parsed, and message contents, in which it is not, so a user cannot forge "<|im_end|>".
#include "infer/tokenizer.hpp"

namespace dgrid::infer {
namespace {

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::vector<Tokenizer::Segment>> Tokenizer::render_chat(const std::vector<ChatMessage>& msgs,
                                                               bool add_assistant_prompt) const {
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string& r = msgs[i].role;
    if (r != "system" && r != "user" && r != "assistant")
      return fail(Errc::invalid_argument, "chat message " + std::to_string(i) + ": unknown role \"" + r +
                                              "\" (expected system, user or assistant)");
  }
  std::vector<Segment> segs;
  auto tmpl = [&](std::string s) { segs.push_back({std::move(s), true}); };
  auto content = [&](std::string_view s) { segs.push_back({std::string(s), false}); };

  switch (chat_family_) {
    case ChatFamily::chatml:
      for (const auto& m : msgs) {
        tmpl("<|im_start|>" + m.role + "\n");
        content(m.content);
        tmpl("<|im_end|>\n");
      }
      if (add_assistant_prompt) tmpl("<|im_start|>assistant\n");
      break;
    case ChatFamily::llama3:
      for (const auto& m : msgs) {
        tmpl("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
        content(trim(m.content));
        tmpl("<|eot_id|>");
      }
      if (add_assistant_prompt) tmpl("<|start_header_id|>assistant<|end_header_id|>\n\n");
      break;
    case ChatFamily::llama2: {
      // [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
      // The prompt already ends where the assistant speaks, so add_assistant_prompt adds nothing.
      size_t i = 0;
      std::string_view system;
      if (!msgs.empty() && msgs[0].role == "system") system = trim(msgs[i++].content);
      const std::string bos = bos_ ? tokens_[*bos_] : "", eos = eos_ ? tokens_[*eos_] : "";
      for (size_t turn = 0; i < msgs.size(); ++i, ++turn) {
        const std::string_view want = turn % 2 == 0 ? "user" : "assistant";
        if (msgs[i].role != want)
          return fail(Errc::invalid_argument, "chat message " + std::to_string(i) + ": the llama-2 template needs " +
                                                  "an optional system message, then user and assistant alternating " +
                                                  "(got \"" + msgs[i].role + "\" where \"" + std::string(want) + "\" belongs)");
        if (want == "user") {
          tmpl((turn == 0 ? "" : bos) + "[INST] ");
          if (turn == 0 && !system.empty()) {
            tmpl("<<SYS>>\n");
            content(system);
            tmpl("\n<</SYS>>\n\n");
          }
          content(trim(msgs[i].content));
          tmpl(" [/INST]");
        } else {
          tmpl(" ");
          content(trim(msgs[i].content));
          tmpl(" " + eos);
        }
      }
      break;
    }
    case ChatFamily::plain:
      for (const auto& m : msgs) {
        tmpl(m.role + ": ");
        content(m.content);
        tmpl("\n");
      }
      if (add_assistant_prompt) tmpl("assistant:");
      break;
  }
  return segs;
}

Result<std::string> Tokenizer::apply_chat_template(const std::vector<ChatMessage>& msgs,
                                                   bool add_assistant_prompt) const {
  auto segs = render_chat(msgs, add_assistant_prompt);
  if (!segs) return std::unexpected(segs.error());
  std::string out;
  for (const auto& s : *segs) out += s.text;
  return out;
}

Result<std::vector<uint32_t>> Tokenizer::encode_chat(const std::vector<ChatMessage>& msgs,
                                                     bool add_assistant_prompt, bool add_bos) const {
  auto segs = render_chat(msgs, add_assistant_prompt);
  if (!segs) return std::unexpected(segs.error());
  return encode_segments(*segs, add_bos);
}

}  // namespace dgrid::infer

// OpenAI request parsing and response builders (field names per the OpenAI API reference).
#include "net/openai.hpp"

#include <limits>

namespace dgrid::net {

namespace {

using json = nlohmann::json;

std::unexpected<Error> bad(std::string message) { return fail(Errc::invalid_argument, std::move(message)); }

bool present(const json& body, const char* key) { return body.contains(key) && !body[key].is_null(); }

// An integer in [lo, hi]; JSON floats are refused even when integral (OpenAI does the same).
template <class T>
Result<T> integer(const json& v, const std::string& name, T lo, T hi) {
  std::string range = " between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (v.is_number_unsigned()) {
    auto x = v.get<uint64_t>();
    if (x < static_cast<uint64_t>(lo) || x > static_cast<uint64_t>(hi)) return bad(name + " must be an integer" + range + ", got " + v.dump());
    return static_cast<T>(x);
  }
  if (v.is_number_integer()) {
    auto x = v.get<int64_t>();
    if (x < 0 || static_cast<uint64_t>(x) < static_cast<uint64_t>(lo) || static_cast<uint64_t>(x) > static_cast<uint64_t>(hi))
      return bad(name + " must be an integer" + range + ", got " + v.dump());
    return static_cast<T>(x);
  }
  return bad(name + " must be an integer" + range + ", got " + v.dump());
}

Result<double> number(const json& v, const std::string& name) {
  if (!v.is_number()) return bad(name + " must be a number, got " + v.dump());
  return v.get<double>();
}

Result<bool> boolean(const json& v, const std::string& name) {
  if (!v.is_boolean()) return bad(name + " must be true or false, got " + v.dump());
  return v.get<bool>();
}

// Fields a client may send with a harmless value; anything else would change the answer.
Result<void> reject_unsupported(const json& b, bool chat) {
  if (present(b, "n")) {
    auto n = integer<uint32_t>(b["n"], "n", 1, std::numeric_limits<uint32_t>::max());
    if (!n) return std::unexpected(n.error());
    if (*n != 1) return bad("n must be 1: only one choice per request is supported");
  }
  if (present(b, "logprobs")) {
    const json& v = b["logprobs"];
    if (!(v.is_boolean() && !v.get<bool>())) return bad("logprobs is not supported");
  }
  if (present(b, "top_logprobs") && b["top_logprobs"] != 0) return bad("top_logprobs is not supported");
  if (present(b, "echo") && b["echo"] != false) return bad("echo is not supported");
  if (present(b, "best_of") && b["best_of"] != 1) return bad("best_of must be 1: only one candidate per request is supported");
  if (present(b, "suffix") && b["suffix"] != "") return bad("suffix is not supported");
  for (const char* key : {"tools", "functions"})
    if (present(b, key) && !(b[key].is_array() && b[key].empty())) return bad(std::string(key) + " are not supported (no tool calling)");
  for (const char* key : {"tool_choice", "function_call"})
    if (present(b, key) && b[key] != "none" && b[key] != "auto") return bad(std::string(key) + " is not supported (no tool calling)");
  if (present(b, "response_format")) {
    const json& rf = b["response_format"];
    if (!rf.is_object() || !rf.contains("type") || rf["type"] != "text") {
      std::string type = rf.is_object() && rf.contains("type") ? rf["type"].dump() : rf.dump();
      return bad("response_format type " + type + " is not supported; only \"text\"");
    }
  }
  if (present(b, "logit_bias") && !(b["logit_bias"].is_object() && b["logit_bias"].empty())) return bad("logit_bias is not supported");
  for (const char* key : {"presence_penalty", "frequency_penalty"}) {
    if (!present(b, key)) continue;
    auto v = number(b[key], key);
    if (!v) return std::unexpected(v.error());
    if (*v != 0) return bad(std::string(key) + " is not supported (only 0)");
  }
  if (chat) {
    if (present(b, "audio")) return bad("audio output is not supported");
    if (present(b, "modalities")) {
      const json& m = b["modalities"];
      if (!m.is_array()) return bad("modalities must be an array");
      for (const auto& x : m)
        if (x != "text") return bad("modalities " + x.dump() + " is not supported; only \"text\"");
    }
  }
  return {};
}

Result<std::string> message_content(const json& m, const std::string& where) {
  if (!m.contains("content") || m["content"].is_null()) return bad(where + ".content is required");
  const json& c = m["content"];
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) return bad(where + ".content must be a string or an array of text parts");
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    std::string part = where + ".content[" + std::to_string(i) + "]";
    if (!c[i].is_object() || !c[i].contains("type")) return bad(part + " must be an object with a type");
    if (c[i]["type"] != "text") return bad(part + ".type " + c[i]["type"].dump() + " is not supported; only \"text\"");
    if (!c[i].contains("text") || !c[i]["text"].is_string()) return bad(part + ".text must be a string");
    if (i > 0) out += '\n';
    out += c[i]["text"].get<std::string>();
  }
  return out;
}

Result<std::vector<ChatMessage>> parse_messages(const json& b) {
  if (!present(b, "messages")) return bad("messages is required");
  const json& ms = b["messages"];
  if (!ms.is_array() || ms.empty()) return bad("messages must be a non-empty array");
  std::vector<ChatMessage> out;
  out.reserve(ms.size());
  for (size_t i = 0; i < ms.size(); ++i) {
    std::string where = "messages[" + std::to_string(i) + "]";
    const json& m = ms[i];
    if (!m.is_object()) return bad(where + " must be an object");
    if (!m.contains("role") || !m["role"].is_string()) return bad(where + ".role must be a string");
    std::string role = m["role"].get<std::string>();
    if (role == "tool" || role == "function") return bad(where + ".role \"" + role + "\" is not supported (no tool calling)");
    if (role != "system" && role != "developer" && role != "user" && role != "assistant")
      return bad(where + ".role must be one of system, developer, user, assistant; got \"" + role + "\"");
    if (present(m, "tool_calls") && !(m["tool_calls"].is_array() && m["tool_calls"].empty()))
      return bad(where + ".tool_calls is not supported (no tool calling)");
    auto content = message_content(m, where);
    if (!content) return std::unexpected(content.error());
    out.push_back({std::move(role), std::move(*content)});
  }
  return out;
}

Result<std::string> parse_prompt(const json& b) {
  if (!present(b, "prompt")) return bad("prompt is required");
  const json& p = b["prompt"];
  if (p.is_string()) return p.get<std::string>();
  if (p.is_array()) {
    if (p.size() == 1 && p[0].is_string()) return p[0].get<std::string>();
    if (!p.empty() && (p[0].is_number() || p[0].is_array())) return bad("prompt as token ids is not supported; send the prompt as text");
    if (p.size() > 1) return bad("prompt must be a single string: batches of prompts are not supported");
  }
  return bad("prompt must be a string");
}

}  // namespace

Result<CompletionRequest> parse_completion_request(std::string_view body, bool chat) {
  json b = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (b.is_discarded()) return bad("request body is not valid JSON");
  if (!b.is_object()) return bad("request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;

  if (!present(b, "model")) return bad("model is required");
  if (!b["model"].is_string() || b["model"].get_ref<const std::string&>().empty()) return bad("model must be a non-empty string");
  r.model = b["model"].get<std::string>();

  if (auto ok = reject_unsupported(b, chat); !ok) return std::unexpected(ok.error());

  if (chat) {
    auto ms = parse_messages(b);
    if (!ms) return std::unexpected(ms.error());
    r.messages = std::move(*ms);
  } else {
    auto p = parse_prompt(b);
    if (!p) return std::unexpected(p.error());
    r.prompt = std::move(*p);
  }

  constexpr uint32_t kU32 = std::numeric_limits<uint32_t>::max();
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!present(b, key)) continue;
    auto v = integer<uint32_t>(b[key], key, 1, kU32);
    if (!v) return std::unexpected(v.error());
    r.max_tokens = *v;  // the later (max_completion_tokens) wins: it replaces max_tokens
  }
  if (present(b, "temperature")) {
    auto t = number(b["temperature"], "temperature");
    if (!t) return std::unexpected(t.error());
    if (!(*t >= 0 && *t <= 2)) return bad("temperature must be between 0 and 2, got " + b["temperature"].dump());
    r.temperature = static_cast<float>(*t);
  }
  if (present(b, "top_p")) {
    auto p = number(b["top_p"], "top_p");
    if (!p) return std::unexpected(p.error());
    if (!(*p > 0 && *p <= 1)) return bad("top_p must be greater than 0 and at most 1, got " + b["top_p"].dump());
    r.top_p = static_cast<float>(*p);
  }
  if (present(b, "top_k")) {
    auto k = integer<uint32_t>(b["top_k"], "top_k", 0, kU32);
    if (!k) return std::unexpected(k.error());
    r.top_k = *k;
  }
  if (present(b, "seed")) {
    auto s = integer<uint64_t>(b["seed"], "seed", 0, std::numeric_limits<uint64_t>::max());
    if (!s) return std::unexpected(s.error());
    r.seed = *s;
  }
  if (present(b, "stop")) {
    const json& s = b["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 4) return bad("stop may hold at most 4 sequences, got " + std::to_string(s.size()));
      for (const auto& x : s) {
        if (!x.is_string()) return bad("stop must be a string or an array of strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      return bad("stop must be a string or an array of strings");
    }
    for (const auto& x : r.stop)
      if (x.empty()) return bad("stop sequences must not be empty");
  }
  if (present(b, "stream")) {
    auto s = boolean(b["stream"], "stream");
    if (!s) return std::unexpected(s.error());
    r.stream = *s;
  }
  if (present(b, "stream_options")) {
    const json& so = b["stream_options"];
    if (!so.is_object()) return bad("stream_options must be an object");
    if (present(so, "include_usage")) {
      auto u = boolean(so["include_usage"], "stream_options.include_usage");
      if (!u) return std::unexpected(u.error());
      r.include_usage = *u;
    }
  }
  if (present(b, "n")) r.n = 1;  // anything else was refused above
  return r;
}

nlohmann::json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens}, {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

namespace {

json envelope(std::string_view id, std::string_view object, int64_t created, std::string_view model) {
  return {{"id", id}, {"object", object}, {"created", created}, {"model", model}};
}

json finish(std::optional<std::string_view> reason) { return reason ? json(*reason) : json(nullptr); }

}  // namespace

nlohmann::json completion_response(std::string_view id, int64_t created, std::string_view model, std::string_view text,
                                   std::string_view finish_reason, const Usage& usage) {
  json j = envelope(id, "text_completion", created, model);
  j["choices"] = json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}});
  j["usage"] = usage_json(usage);
  return j;
}

nlohmann::json chat_response(std::string_view id, int64_t created, std::string_view model, std::string_view content,
                             std::string_view finish_reason, const Usage& usage) {
  json j = envelope(id, "chat.completion", created, model);
  j["choices"] = json::array({{{"index", 0},
                               {"message", {{"role", "assistant"}, {"content", content}}},
                               {"logprobs", nullptr},
                               {"finish_reason", finish_reason}}});
  j["usage"] = usage_json(usage);
  return j;
}

nlohmann::json completion_chunk(std::string_view id, int64_t created, std::string_view model, std::string_view text,
                                std::optional<std::string_view> finish_reason, bool include_usage) {
  json j = envelope(id, "text_completion", created, model);
  j["choices"] = json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish(finish_reason)}}});
  if (include_usage) j["usage"] = nullptr;
  return j;
}

nlohmann::json chat_chunk(std::string_view id, int64_t created, std::string_view model, const ChatDelta& delta,
                          std::optional<std::string_view> finish_reason, bool include_usage) {
  json d = json::object();
  if (delta.role) d["role"] = *delta.role;
  if (delta.content) d["content"] = *delta.content;
  json j = envelope(id, "chat.completion.chunk", created, model);
  j["choices"] = json::array({{{"index", 0}, {"delta", std::move(d)}, {"logprobs", nullptr}, {"finish_reason", finish(finish_reason)}}});
  if (include_usage) j["usage"] = nullptr;
  return j;
}

nlohmann::json usage_chunk(bool chat, std::string_view id, int64_t created, std::string_view model, const Usage& usage) {
  json j = envelope(id, chat ? "chat.completion.chunk" : "text_completion", created, model);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return j;
}

nlohmann::json model_list(const std::vector<ModelEntry>& models) {
  json data = json::array();
  for (const auto& m : models) data.push_back({{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", m.owned_by}});
  return {{"object", "list"}, {"data", std::move(data)}};
}

}  // namespace dgrid::net

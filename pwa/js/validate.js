// The intake checks of the server, message for message (server/cases/identity.py, the rules of
// server/cases/actions.py _check_intake, server/catalog/codes.py uscc_problem), so an agent
// offline hears what the window would say. tests/browser/test_agent_validate.py runs the
// server's own test cases through both and compares every verdict.

const DIGITS = /^[0-9]$/;
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = "10X98765432";
const PROVINCES = new Set(
  [[11, 15], [21, 23], [31, 37], [41, 46], [50, 54], [61, 65], [71, 71], [81, 82], [91, 91]]
    .flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))),
);
const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const USCC = new RegExp(`^[${USCC_ALPHABET}]{18}$`);
const NUMBER_NAMES = {
  resident_id: "身份证号码",
  hk_macao_permit: "港澳居民来往内地通行证号码",
  taiwan_permit: "台湾居民来往大陆通行证号码",
  passport: "护照号码",
  uscc: "统一社会信用代码",
};
const DOCUMENTS = {
  hk_macao_permit: [/^[HM](?:[0-9]{8}|[0-9]{10})$/, "港澳居民来往内地通行证号码应为 H 或 M 开头、后接 8 位或 10 位数字，请对照证件核对"],
  taiwan_permit: [/^(?:[0-9]{8}|[0-9A-Z]{10})$/, "台湾居民来往大陆通行证号码应为 8 位数字（或 10 位字母和数字），请对照证件核对"],
  passport: [/^[0-9A-Z]{5,17}$/, "护照号码应为 5–17 位字母或数字，请对照护照核对"],
};

const chars = (text) => Array.from(text); // code points, as Python counts them

/** Today's date in China as [year, month, day]. */
export function todayInChina(now = new Date()) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(now);
  return parts.split("-").map(Number);
}

export function normaliseIdNumber(value) {
  return value.normalize("NFKC").replace(/\s+/g, "").toUpperCase();
}

export function residentIdCheckChar(first17) {
  return CHECK[chars(first17).reduce((sum, ch, i) => sum + Number(ch) * WEIGHTS[i], 0) % 11];
}

function validDate(y, m, d) {
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  return y >= 1 && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** What is wrong with a resident ID number (GB 11643-1999), or null; `today` [y, m, d]. */
export function residentIdProblem(value, today = todayInChina()) {
  const number = normaliseIdNumber(value);
  const cs = chars(number);
  if (!cs.length) return "请填写身份证号码";
  if (cs.length !== 18) {
    if (cs.length === 15 && cs.every((ch) => DIGITS.test(ch))) {
      return "身份证号码应为 18 位，现为 15 位（15 位的是第一代身份证号码，请按现行身份证填写）";
    }
    return `身份证号码应为 18 位，现为 ${cs.length} 位`;
  }
  const bad = cs.slice(0, 17).findIndex((ch) => !DIGITS.test(ch));
  if (bad >= 0) return `身份证号码第 ${bad + 1} 位应为数字，现为“${cs[bad]}”，请核对`;
  if (!/^[0-9X]$/.test(cs[17])) return `身份证号码最后一位应为数字或 X，现为“${cs[17]}”，请核对`;
  if (!PROVINCES.has(number.slice(0, 2))) {
    return `身份证号码前两位 ${number.slice(0, 2)} 不是有效的省份代码，请对照身份证核对`;
  }
  const [y, m, d] = [number.slice(6, 10), number.slice(10, 12), number.slice(12, 14)].map(Number);
  const shown = `${number.slice(6, 10)}-${number.slice(10, 12)}-${number.slice(12, 14)}`;
  if (!validDate(y, m, d)) return `身份证号码中的出生日期 ${shown} 不存在，请核对第 7–14 位`;
  if (y < 1900) return `身份证号码中的出生日期 ${shown} 早于 1900 年，请核对第 7–14 位`;
  const [ty, tm, td] = today;
  if (y * 10000 + m * 100 + d > ty * 10000 + tm * 100 + td) {
    return `身份证号码中的出生日期 ${shown} 晚于今天，请核对第 7–14 位`;
  }
  if (residentIdCheckChar(number.slice(0, 17)) !== number[17]) {
    return "身份证号码校验位不对，请对照身份证逐位核对";
  }
  return null;
}

function usccProblem(code) {
  if (!USCC.test(code)) return "format";
  const sum = chars(code).slice(0, 17).reduce((s, ch, i) => s + USCC_ALPHABET.indexOf(ch) * USCC_WEIGHTS[i], 0);
  return USCC_ALPHABET[(31 - (sum % 31)) % 31] === code[17] ? null : "check";
}

export function creditCodeWarning(value) {
  const code = normaliseIdNumber(value);
  if (usccProblem(code) === null) return null;
  const n = chars(code).length;
  const length = code && n !== 18 ? `（应为 18 位，现为 ${n} 位）` : "";
  return `统一社会信用代码校验未通过${length}，请核对；如确认无误可继续`;
}

/** [error, warning] for an ID document number of the given type. */
export function idProblem(idType, value, today = todayInChina()) {
  if (!(idType in NUMBER_NAMES)) return ["请选择证件类型", null];
  const number = normaliseIdNumber(value);
  if (!number) return [`请填写${NUMBER_NAMES[idType]}`, null];
  if (idType === "resident_id") return [residentIdProblem(number, today), null];
  if (idType === "uscc") return [null, creditCodeWarning(number)];
  const [pattern, message] = DOCUMENTS[idType];
  return [pattern.test(number) ? null : message, null];
}

export function normaliseMobile(value) {
  let digits = value.normalize("NFKC").trim().replace(/[\s-]/g, "");
  if (digits.startsWith("+86")) digits = digits.slice(3);
  else if (digits.startsWith("86") && chars(digits).length === 13) digits = digits.slice(2);
  return digits;
}

export function mobileProblem(value) {
  const number = normaliseMobile(value);
  const cs = chars(number);
  if (!cs.length) return "请填写手机号码";
  if (!cs.every((ch) => DIGITS.test(ch))) return "手机号码只能包含数字，请去掉其他字符";
  if (cs.length !== 11) return `手机号码应为 11 位数字，现为 ${cs.length} 位，请核对`;
  if (!/^1[3-9][0-9]{9}$/.test(number)) return "手机号码应以 13–19 开头，例如 13800138000，请核对";
  return null;
}

/** The intake form's errors (by field name) and warnings, as the server's _check_intake. */
export function intakeProblems(values, itemKnown, today = todayInChina()) {
  const errors = {};
  const warnings = [];
  const name = values.applicant_name.trim();
  if (chars(name).length < 1 || chars(name).length > 100) {
    errors.applicant_name = "请填写申请人姓名（或单位名称），不超过 100 个字";
  }
  if (!["natural", "legal"].includes(values.applicant_kind)) {
    errors.applicant_kind = "请选择申请人类型：自然人或法人";
  }
  const [error, warning] = idProblem(values.applicant_id_type, values.applicant_id, today);
  if (error) errors[values.applicant_id_type in NUMBER_NAMES ? "applicant_id" : "applicant_id_type"] = error;
  if (warning) warnings.push(warning);
  if (values.applicant_phone) {
    const problem = mobileProblem(values.applicant_phone);
    if (problem) errors.applicant_phone = problem;
  }
  if (chars(values.applicant_address).length > 500) errors.applicant_address = "地址不能超过 500 个字";
  if (!itemKnown) errors.item_id = "请从事项目录中选择一个在用的事项";
  return { errors, warnings };
}

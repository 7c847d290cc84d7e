"""What the pages call the product's values, in Vietnamese: statuses, roles, phases, checks,
signature roles, document types, sources of a field. English through `locales/en/words.json`."""

from __future__ import annotations

VERDICT_STATUS = {
    "pass": "Đạt", "partial": "Đạt một phần", "fail": "Không đạt",
    "needs_review": "Cần xem xét", "not_applicable": "Không áp dụng",
}
CHECK_STATUS = {
    "pass": "Đạt", "fail": "Không đạt", "needs_review": "Cần xem xét",
    "not_applicable": "Không áp dụng",
}
SIGNATURE_STATUS = {
    "valid": "Hợp lệ",
    "invalid": "Không hợp lệ: chữ ký không khớp với nội dung",
    "untrusted": "Không xác minh được nguồn: chứng thư không thuộc tổ chức tin cậy đã cấu hình",
    "modified": "Văn bản đã bị sửa sau khi ký",
    "expired": "Chứng thư số hết hạn khi ký",
    "revoked": "Chứng thư số đã bị thu hồi",
    "unsupported": "Loại chữ ký không được hỗ trợ",
    "malformed": "Không đọc được chữ ký",
    "indeterminate": "Chưa kết luận được (thuật toán bị chính sách từ chối, ví dụ SHA-1)",
}
SIGNATURE_ROLE = {
    "signer": "Người có thẩm quyền ký", "agency": "Chữ ký số của cơ quan (con dấu)",
    "initials": "Ký nháy", "copy": "Sao y / đăng công báo", "other": "Khác",
}
ROLE = {
    "unit": "Đơn vị", "appraiser": "Thẩm định viên", "auditor": "Kiểm tra viên",
    "admin": "Quản trị", "portal": "Cổng DTI",
}
PHASE = {
    "self_assessment": "Tự đánh giá", "appraisal": "Thẩm định vòng 1",
    "explanation": "Giải trình", "second_appraisal": "Thẩm định vòng 2",
    "publication": "Công bố",
}
FIELD = {
    "doc_type": "Loại văn bản", "number": "Số, ký hiệu", "issue_date": "Ngày ban hành",
    "place": "Địa danh", "issuer": "Cơ quan ban hành", "issuer_parent": "Cơ quan chủ quản",
    "subject": "Trích yếu", "signer_name": "Người ký", "signer_title": "Chức vụ người ký",
    "signer_authority": "Thẩm quyền ký", "signer": "Người ký",
    # The document view's other fields (DocumentFields).
    "type_name": "Tên loại in trên văn bản", "superior_agency": "Cơ quan chủ quản",
    "recipients": "Nơi nhận", "copy_mark": "Dấu bản sao", "appendix_file": "Phụ lục",
}
SOURCE = {
    "text": "lớp chữ của trang", "tcvn3": "lớp chữ TCVN3 đã chuyển mã",
    "appearance": "hình hiển thị của chữ ký số (số, ngày đóng khi phát hành)",
    "ocr": "nhận dạng chữ (OCR)",
}
DOC_TYPE = {
    "quyet_dinh": "Quyết định", "ke_hoach": "Kế hoạch", "bao_cao": "Báo cáo",
    "thong_bao": "Thông báo", "giay_trieu_tap": "Giấy triệu tập", "giay_moi": "Giấy mời",
    "cong_van": "Công văn", "to_trinh": "Tờ trình", "chi_thi": "Chỉ thị",
    "huong_dan": "Hướng dẫn", "chuong_trinh": "Chương trình", "phuong_an": "Phương án",
}
CHECK = {
    "file_readable": "Tệp đọc được",
    "doc_type_is": "Đúng loại văn bản",
    "issuer_is_unit": "Do đơn vị ban hành",
    "issued_within_window": "Ban hành trong thời hạn",
    "issued_in_year": "Ban hành trong năm đánh giá",
    "issued_in_month": "Ban hành đúng tháng",
    "issued_before": "Ban hành trước thời hạn",
    "plan_for_year": "Kế hoạch cho năm đánh giá",
    "mentions": "Nội dung nêu đúng yêu cầu",
    "not_reused": "Không dùng lại tài liệu của năm/đơn vị khác",
    "head_is_truong_ban": "Người đứng đầu là Trưởng ban",
    "signer_rank": "Người ký đúng thẩm quyền",
    "digitally_signed": "Có chữ ký số hợp lệ",
    "signature_matches_signer": "Chữ ký số đúng người ký",
    "signature_matches_issuer": "Chữ ký số đúng cơ quan ban hành",
    "signing_time_consistent": "Thời gian ký khớp ngày ban hành",
    "scan_with_seal": "Bản quét có dấu đỏ",
    "count_at_least": "Đủ số lượng văn bản",
    "last_before": "Văn bản cuối cùng đúng hạn",
    # Checks the evaluator itself writes (verifier/evaluate.py), not in a rule set.
    "evidence_present": "Có tệp minh chứng",
    "distinct_file": "Mỗi minh chứng là một tệp riêng",
    "applies_to_level": "Tiêu chí áp dụng cho cấp của đơn vị",
    "backed_by_platform": "Được chứng minh qua nền tảng số",
    "exempt": "Được miễn",
    "judged_by_person": "Do người thẩm định đánh giá",
}
LEVEL = {"so": "Sở, ban, ngành", "huyen": "Cấp huyện", "xa": "Cấp xã"}

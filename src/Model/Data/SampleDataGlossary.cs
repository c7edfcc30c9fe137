namespace MiniMind.Model.Data;

/// <summary>An English–Chinese word list for the samples' glossary sentences ("In Chinese, river is 河。"). It widens
/// the vocabulary enough for a 6400-token BPE to be trained on the sample data, while each line stays simple.</summary>
public static class SampleDataGlossary
{
    /// <summary>(English, Chinese) pairs, grouped by theme.</summary>
    public static IReadOnlyList<(string En, string Zh)> Words { get; } = Parse(
        // nature and weather
        "sun 太阳|moon 月亮|star 星星|sky 天空|cloud 云|rain 雨|snow 雪|wind 风|storm 暴风雨|rainbow 彩虹|" +
        "mountain 山|hill 小山|river 河|lake 湖|sea 海|ocean 大海|island 岛|forest 森林|tree 树|flower 花|" +
        "grass 草|leaf 叶子|stone 石头|sand 沙子|water 水|fire 火|ice 冰|earth 地球|light 光|shadow 影子|" +
        "spring 春天|summer 夏天|autumn 秋天|winter 冬天|morning 早上|evening 晚上|night 夜晚|noon 中午|day 白天|week 星期|" +
        "month 月份|year 年|today 今天|tomorrow 明天|yesterday 昨天|hour 小时|minute 分钟|second 秒|weather 天气|season 季节|" +
        // food and drink
        "rice 米饭|noodle 面条|bread 面包|egg 鸡蛋|milk 牛奶|tea 茶|coffee 咖啡|juice 果汁|soup 汤|meat 肉|" +
        "chicken 鸡肉|beef 牛肉|pork 猪肉|fish 鱼|vegetable 蔬菜|fruit 水果|apple 苹果|banana 香蕉|orange 橙子|grape 葡萄|" +
        "watermelon 西瓜|strawberry 草莓|peach 桃子|pear 梨|lemon 柠檬|tomato 西红柿|potato 土豆|carrot 胡萝卜|cabbage 白菜|corn 玉米|" +
        "sugar 糖|salt 盐|honey 蜂蜜|cake 蛋糕|cookie 饼干|dumpling 饺子|tofu 豆腐|bean 豆子|mushroom 蘑菇|peanut 花生|" +
        // body and health
        "head 头|face 脸|eye 眼睛|ear 耳朵|nose 鼻子|mouth 嘴|tooth 牙齿|hair 头发|hand 手|finger 手指|" +
        "arm 手臂|leg 腿|foot 脚|heart 心脏|stomach 胃|back 后背|shoulder 肩膀|knee 膝盖|skin 皮肤|blood 血|" +
        "doctor 医生|nurse 护士|hospital 医院|medicine 药|fever 发烧|cough 咳嗽|a cold 感冒|pain 疼痛|health 健康|sleep 睡觉|" +
        // family and people
        "father 父亲|mother 母亲|brother 兄弟|sister 姐妹|grandfather 爷爷|grandmother 奶奶|son 儿子|daughter 女儿|baby 婴儿|child 孩子|" +
        "friend 朋友|teacher 老师|student 学生|farmer 农民|worker 工人|driver 司机|cook 厨师|artist 画家|singer 歌手|writer 作家|" +
        "police officer 警察|firefighter 消防员|scientist 科学家|engineer 工程师|pilot 飞行员|king 国王|queen 王后|neighbour 邻居|guest 客人|stranger 陌生人|" +
        // home and things
        "house 房子|room 房间|door 门|window 窗户|table 桌子|chair 椅子|bed 床|lamp 灯|clock 钟|mirror 镜子|" +
        "kitchen 厨房|bathroom 浴室|garden 花园|roof 屋顶|wall 墙|floor 地板|stairs 楼梯|key 钥匙|box 盒子|bag 包|" +
        "cup 杯子|bowl 碗|plate 盘子|spoon 勺子|chopsticks 筷子|knife 刀|bottle 瓶子|towel 毛巾|soap 肥皂|blanket 毯子|" +
        "shirt 衬衫|coat 外套|hat 帽子|shoe 鞋|sock 袜子|umbrella 雨伞|glasses 眼镜|watch 手表|phone 手机|computer 电脑|" +
        // school and work
        "school 学校|class 班级|lesson 课|book 书|page 页|pen 钢笔|pencil 铅笔|paper 纸|desk 书桌|map 地图|" +
        "question 问题|answer 答案|story 故事|word 词语|letter 信|number 数字|picture 图画|music 音乐|song 歌|game 游戏|" +
        "language 语言|English 英语|Chinese 中文|math 数学|science 科学|history 历史|art 美术|sport 运动|homework 作业|exam 考试|" +
        // places and travel
        "town 小镇|city 城市|village 村庄|country 国家|road 路|street 街道|bridge 桥|park 公园|market 市场|shop 商店|" +
        "bank 银行|library 图书馆|museum 博物馆|station 车站|airport 机场|harbour 港口|farm 农场|factory 工厂|restaurant 饭店|hotel 旅馆|" +
        "car 汽车|bus 公共汽车|train 火车|plane 飞机|boat 船|bicycle 自行车|ticket 票|journey 旅程|north 北|south 南|" +
        "east 东|west 西|left 左边|right 右边|front 前面|behind 后面|inside 里面|outside 外面|near 附近|far 远|" +
        // animals
        "cat 猫|dog 狗|fox 狐狸|owl 猫头鹰|rabbit 兔子|horse 马|duck 鸭子|bear 熊|deer 鹿|goat 山羊|" +
        "bird 鸟|tiger 老虎|lion 狮子|elephant 大象|monkey 猴子|panda 熊猫|cow 牛|sheep 羊|pig 猪|mouse 老鼠|" +
        "snake 蛇|frog 青蛙|butterfly 蝴蝶|bee 蜜蜂|ant 蚂蚁|whale 鲸鱼|dolphin 海豚|turtle 乌龟|wolf 狼|squirrel 松鼠|" +
        // colours and shapes
        "red 红色|blue 蓝色|green 绿色|yellow 黄色|white 白色|black 黑色|purple 紫色|pink 粉色|brown 棕色|grey 灰色|" +
        "circle 圆形|square 正方形|triangle 三角形|line 线|point 点|big 大|small 小|long 长|short 短|tall 高|" +
        // adjectives
        "happy 快乐|sad 伤心|angry 生气|tired 累|hungry 饿|thirsty 渴|hot 热|warm 温暖|cool 凉快|new 新|" +
        "old 旧|young 年轻|fast 快|slow 慢|easy 容易|difficult 困难|clean 干净|dirty 脏|quiet 安静|loud 吵|" +
        "beautiful 美丽|kind 善良|brave 勇敢|clever 聪明|busy 忙|free 空闲|full 满|empty 空|heavy 重|thin 薄|" +
        "early 早|late 晚|rich 富有|poor 贫穷|strong 强壮|weak 虚弱|safe 安全|dangerous 危险|true 真|false 假|" +
        // verbs
        "eat 吃|drink 喝|walk 走|run 跑|jump 跳|swim 游泳|fly 飞|sing 唱|dance 跳舞|read 读|" +
        "write 写|draw 画|listen 听|speak 说|see 看见|look 看|think 想|know 知道|learn 学习|teach 教|" +
        "buy 买|sell 卖|give 给|take 拿|open 打开|close 关上|come 来|go 去|sit 坐|stand 站|" +
        "help 帮助|play 玩|work 工作|rest 休息|wait 等|find 找到|lose 丢失|build 建造|grow 生长|cook dinner 做饭|" +
        "wash 洗|clean up 打扫|carry 搬|count 数|climb 爬|laugh 笑|cry 哭|love 爱|like 喜欢|remember 记得");

    static (string, string)[] Parse(string packed) =>
        packed.Split('|').Select(p => { var i = p.LastIndexOf(' '); return (p[..i], p[(i + 1)..]); }).ToArray();
}
